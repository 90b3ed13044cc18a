"""The three-tier report (三重制度保障构成) by category over whole months reads the fund
pre-aggregate (issue 20: no bill scanned per request) and gives the figures the scan of the bills
gave, to the fen: stays, people, total cost, in-scope cost, basic, critical-illness, assistance
granted, other, self-pay; the aggregate check catches a tampered cost part; a district user counts
their district only. By institution level, and for periods that start or end inside a month, the
report still scans the bills (the pre-aggregate is by month and has no institution)."""
from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from claims.models import BillStatus
from reports import aggregate, reporting
from tests.factories import BillFactory, PersonFactory

D = Decimal
pytestmark = pytest.mark.django_db

WHOLE_YEAR = {"date_from": date(2024, 1, 1), "date_to": date(2024, 12, 31)}
FIGURES = ("group", "stays", "persons", "total", "scope", "basic", "critical", "assistance", "other", "self_pay",
           "self_share")


def _bill(district, *, month, assistance, cat="minimum_living", visit="inpatient", status=BillStatus.RECORDED,
          person=None, granted=None, total="30000.00", scope="25000.00", basic="9000.00", critical="1200.50",
          other="300.25", day=5):
    person = person or PersonFactory(hukou_district=district)
    return BillFactory(person=person, district=district, admission_date=date(2024, month, 1),
                       discharge_date=date(2024, month, day), total_assistance=D(assistance), granted_amount=granted,
                       status=status, total_cost=D(total), policy_scope_cost=D(scope), basic_paid=D(basic),
                       critical_paid=D(critical), other_paid=D(other),
                       computation={"category": cat, "visit_class": visit})


@pytest.fixture
def mixed(district, other_district, approved_application):
    """Two districts, three categories, three visit classes, every kind of bill status (only
    one-stop, approved and paid bills with a grant count), a grant that differs from the engine's
    figure, a zero grant, and relief on application (never in this table)."""
    same = PersonFactory(hukou_district=district)
    _bill(district, month=3, assistance="2500.50", person=same)
    _bill(district, month=3, assistance="1000.01", person=same, visit="outpatient_special", total="4000.00",
          scope="3000.00", basic="1000.00", critical="0.00", other="0.00", day=31)
    _bill(district, month=1, assistance="499.50", cat="extreme_poverty", visit="outpatient_special", day=1)
    _bill(district, month=2, assistance="800.00", status=BillStatus.APPROVED, granted=D("650.35"), cat="extreme_poverty")
    _bill(district, month=2, assistance="777.77", status=BillStatus.PAID, cat="low_income", visit="outpatient")
    _bill(district, month=6, assistance="123.45", status=BillStatus.HOSPITAL_PAID, person=same)
    _bill(district, month=2, assistance="0.00")  # a zero grant: not a bill with assistance granted
    for status in (BillStatus.REJECTED, BillStatus.RETURNED, BillStatus.SUBMITTED, BillStatus.DRAFT):
        _bill(district, month=4, assistance="5000.00", status=status)  # a suggestion or a refusal is not money
    _bill(other_district, month=3, assistance="9999.00")
    _bill(other_district, month=5, assistance="111.11", cat="extreme_poverty", visit="outpatient")
    approved_application.decided_at = datetime(2024, 3, 20, 2, tzinfo=UTC)
    approved_application.save(update_fields=["decided_at"])
    return {"same": same}


def _scanned(user, data, monkeypatch):
    """The report the old way: the per-request scan of the bills (what a partial month still does)."""
    with monkeypatch.context() as m:
        m.setattr(reporting, "_whole_months", lambda start, end: False)
        return reporting.three_tier(user, data)


def _figures(table) -> tuple[list[tuple], tuple]:
    return ([tuple(r[k] for k in FIGURES) for r in table.rows], tuple(table.totals[k] for k in FIGURES))


@pytest.mark.parametrize("period", [
    WHOLE_YEAR,
    {"date_from": date(2024, 2, 1), "date_to": date(2024, 3, 31)},
    {"date_from": date(2023, 12, 1), "date_to": date(2024, 2, 29)},
])
def test_issue_20_three_tier_by_category_from_the_pre_aggregate_equals_the_scan_to_the_fen(
        auditor, caseworker, other_district, mixed, period, monkeypatch):
    for user, district in ((auditor, None), (auditor, other_district), (caseworker, None)):
        data = {**period, "district": district, "by": "category"}
        got = reporting.three_tier(user, data)
        assert _figures(got) == _figures(_scanned(user, data, monkeypatch))
        assert got.chart == _scanned(user, data, monkeypatch).chart
    table = reporting.three_tier(auditor, {**WHOLE_YEAR, "district": None})
    assert table.totals["assistance"] == D("2500.50") + D("1000.01") + D("499.50") + D("650.35") + D("777.77") + D(
        "123.45") + D("9999.00") + D("111.11")
    assert table.totals["stays"] == 8 and table.totals["persons"] == 6  # `same` has three bills
    for r in [*table.rows, table.totals]:
        assert r["total"] == r["basic"] + r["critical"] + r["assistance"] + r["other"] + r["self_pay"]


def test_issue_20_three_tier_page_by_category_reads_no_bill(client, auditor, mixed):
    """Fails on the old code: the page grouped claims_bill per request."""
    client.force_login(auditor)
    url = reverse("reports:report", args=["three-tier"])
    params = {"date_from": "2024-01-01", "date_to": "2024-12-31", "by": "category"}
    client.get(url, params)  # warm (sessions, content types)
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(url, params)
    assert resp.status_code == 200
    assert resp.context["table"].totals["stays"] == 8
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert not any("claims_bill" in sql for sql in sqls), "the report scanned the bills"


def test_issue_20_three_tier_partial_months_and_by_level_still_scan_the_bills_with_the_same_figures(
        auditor, mixed, monkeypatch):
    """A period starting or ending inside a month is not in the monthly pre-aggregate: the bills
    are scanned (the 31 March and 1 January bills sit on the edges)."""
    for period, stays in (({"date_from": date(2024, 1, 2), "date_to": date(2024, 12, 31)}, 7),
                          ({"date_from": date(2024, 1, 1), "date_to": date(2024, 3, 30)}, 5)):
        data = {**period, "district": None, "by": "category"}
        with CaptureQueriesContext(connection) as ctx:
            table = reporting.three_tier(auditor, data)
        assert any("claims_bill" in q["sql"] for q in ctx.captured_queries)
        assert table.totals["stays"] == stays
    whole = reporting.three_tier(auditor, {**WHOLE_YEAR, "district": None, "by": "category"})
    by_level = reporting.three_tier(auditor, {**WHOLE_YEAR, "district": None, "by": "level"})
    for k in ("stays", "persons", "total", "scope", "basic", "critical", "assistance", "other", "self_pay"):
        assert whole.totals[k] == by_level.totals[k], k


def test_issue_20_three_tier_scope_a_district_user_counts_their_district_only(caseworker, other_caseworker, mixed):
    mine = reporting.three_tier(caseworker, {**WHOLE_YEAR, "district": None})
    theirs = reporting.three_tier(other_caseworker, {**WHOLE_YEAR, "district": None})
    assert (mine.totals["stays"], mine.totals["assistance"]) == (6, D("5551.58"))
    assert (theirs.totals["stays"], theirs.totals["assistance"]) == (2, D("10110.11"))
    assert theirs.totals["total"] == D("60000.00")


def test_issue_20_the_aggregate_check_catches_a_tampered_cost_part(caseworker, mixed, caplog):
    from django.db.models import F

    from reports.models import FundDistrictMonth, FundMonth

    assert aggregate.check() == []
    row = FundMonth.objects.filter(bills__gt=0).order_by("pk").first()
    FundMonth.objects.filter(pk=row.pk).update(basic_fen=F("basic_fen") + 1)  # written around the triggers
    found = aggregate.compare()
    assert found == aggregate.compare_in_python()
    assert [d.key[6] for d in found] == [row.person_id] and "basic_fen" in str(found[0])
    assert aggregate.compare(totals_first=True) == found
    assert aggregate.compare_districts() == []  # the district level followed the person level (its trigger)
    aggregate.rebuild()
    assert aggregate.check() == []
    line = FundDistrictMonth.objects.order_by("pk").first()
    FundDistrictMonth.objects.create(district_id=line.district_id, year=line.year, month=line.month,
                                     category=line.category, visit_class=line.visit_class,
                                     visit_type=line.visit_type, total_fen=-7)
    found = aggregate.check(repair=True)
    assert [type(d).__name__ for d in found] == ["DistrictDifference"] and "total_fen" in str(found[0])
    assert aggregate.check() == []
    assert reporting.three_tier(caseworker, {**WHOLE_YEAR, "district": None}).totals["total"] == D("150000.00") + D(
        "4000.00")


def test_issue_20_a_bill_whose_costs_change_moves_the_parts_in_the_pre_aggregate(auditor, district, mixed, monkeypatch):
    from claims.models import Bill

    bill = Bill.objects.filter(district=district, status=BillStatus.PAID).get()
    Bill.objects.filter(pk=bill.pk).update(total_cost=D("31000.10"), other_paid=D("0.01"))
    assert aggregate.compare() == [] == aggregate.compare_districts()
    data = {**WHOLE_YEAR, "district": None, "by": "category"}
    assert _figures(reporting.three_tier(auditor, data)) == _figures(_scanned(auditor, data, monkeypatch))


CATS = ("minimum_living", "extreme_poverty", "low_income")
VISITS = ("inpatient", "outpatient", "outpatient_special")
STATUSES = tuple(BillStatus)


@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(1, 12), st.sampled_from(CATS), st.sampled_from(VISITS),
                          st.sampled_from(STATUSES), st.integers(0, 500_000), st.integers(0, 3)), max_size=10),
       st.integers(1, 12), st.integers(0, 11))
def test_issue_20_three_tier_property_aggregate_equals_the_scan(auditor, district, other_district, monkeypatch, bills,
                                                               first, length):
    from beneficiaries.models import Person
    from claims.models import Bill

    Bill.objects.all().delete()
    Person.objects.all().delete()  # the factory's ID numbers repeat after 1,000 people per district
    people = [PersonFactory(hukou_district=district) for _ in range(3)]
    for where, month, cat, visit, status, fen, who in bills:
        d = (district, other_district)[where]
        _bill(d, month=month, assistance=str(D(fen) / 100), cat=cat, visit=visit, status=status,
              person=people[who] if who < 3 and d is district else None,
              total=str(D(fen) / 100 + D("25000.00")), day=28)
    last = min(12, first + length)
    end = date(2024, last, calendar.monthrange(2024, last)[1])
    data = {"date_from": date(2024, first, 1), "date_to": end, "district": None, "by": "category"}
    assert _figures(reporting.three_tier(auditor, data)) == _figures(_scanned(auditor, data, monkeypatch))
