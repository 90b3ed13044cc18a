"""The fund pre-aggregate's people level (issue 20, ``reports.aggregate``: ``FundPeople`` and
``FundPersonMark``): 救助人数 (distinct people) per district line, district, region and everyone,
read by the fund report from a few rows per group and month instead of a distinct count over the
person level per request — and equal, after every write, to the money definition: the people
with granted bills (``aggregate.scan``, i.e. ``claims.money``) counted once per group.

The reference below (:func:`_expected`) counts them from the scan of the bills; the property test
drives random creates, updates (amount to 0 and back, moves across districts, regions, months,
lines), re-statements through ``claims.recalc.fast_update``-like set-based writes and deletes."""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports import aggregate, reporting

D = Decimal
pytestmark = pytest.mark.django_db


def _expected(grain: str, year: int, unit_ids, months: tuple[int, int], by_line: bool = False) -> dict[tuple, int]:
    """What ``aggregate.people_counts`` must return, from the scan of the bills (the money
    definition): per group the people with a granted bill, counted at their first month of the
    year (the ``_month`` grains: in each month)."""
    from organizations.models import District

    region = dict(District.objects.values_list("pk", "region_id"))
    unit, by_month = aggregate.GRAINS[grain]
    first: dict[tuple, int] = {}
    for (d, y, m, cat, vc, vt, person), (_fen, n, *_parts) in aggregate.scan().items():
        if y != year or n <= 0:
            continue
        u = {"line": d, "district": d, "region": region[d], "all": 0}[unit]
        group = (u, *((cat, vc, vt) if unit == "line" else ("", "", "")), m if by_month else 0, person)
        first[group] = min(first.get(group, 13), m)
    out: dict[tuple, int] = defaultdict(int)
    for (u, cat, vc, vt, _slot, _person), m in first.items():
        if months[0] <= m <= months[1] and (unit_ids is None or u in unit_ids):
            out[(u, cat, vc, vt) if by_line else (u,)] += 1
    return dict(out)


def _agrees(year: int = 2023) -> None:
    from organizations.models import District, Region

    differences = aggregate.compare_people()
    assert differences == [], "\n".join(str(d) for d in differences[:10])
    units = {"line": list(District.objects.values_list("pk", flat=True)),
             "district": list(District.objects.values_list("pk", flat=True)),
             "region": list(Region.objects.values_list("pk", flat=True)), "all": [0]}
    for grain, (unit, by_month) in aggregate.GRAINS.items():
        ranges = [(m, m) for m in range(1, 13)] if by_month else [(1, m) for m in (1, 3, 6, 12)] + [(4, 9)]
        for months in ranges:
            got = aggregate.people_counts(grain=grain, year=year, unit_ids=units[unit], months=months,
                                          by_line=unit == "line")
            assert {k: v for k, v in got.items() if v} == _expected(grain, year, units[unit], months, unit == "line"), \
                (grain, months)


@pytest.fixture
def places(district, other_district):
    """Three districts in two regions (a person can have bills handled in any of them)."""
    from tests.factories import DistrictFactory, PersonFactory, RegionFactory

    far = DistrictFactory(code="120101", name="和平区", short_name="津和",
                          region=RegionFactory(code="120000", name="天津市", short_name="津"))
    people = [PersonFactory(hukou_district=district) for _ in range(4)]
    return {"districts": [district, other_district, far], "people": people}


LINES = [{"category": "minimum_living", "visit_class": "inpatient"},
         {"category": "minimum_living", "visit_class": "outpatient_special"},
         {"category": "low_income", "visit_class": "inpatient"}]

step = st.one_of(
    st.tuples(st.just("new"), st.integers(0, 3), st.integers(0, 2), st.integers(1, 12), st.integers(0, 2),
              st.sampled_from(["0.00", "10.00", "99.99"])),
    st.tuples(st.just("amount"), st.integers(0, 30), st.sampled_from(["0.00", "5.00"])),
    st.tuples(st.just("move"), st.integers(0, 30), st.integers(0, 2), st.integers(1, 12), st.integers(0, 2)),
    st.tuples(st.just("person"), st.integers(0, 30), st.integers(0, 3)),
    st.tuples(st.just("all_zero"), st.integers(0, 3)),
    st.tuples(st.just("delete"), st.integers(0, 30)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=10))
def test_people_level_equals_the_distinct_people_of_the_scan_after_every_write(places, steps):
    from claims.models import Bill
    from tests.factories import BillFactory

    Bill.objects.all().delete()
    districts, people = places["districts"], places["people"]
    for s in steps:
        bills = list(Bill.objects.order_by("pk").values_list("pk", flat=True))
        if s[0] == "new":
            _, p, d, m, line, amount = s
            BillFactory(person=people[p], district=districts[d], total_assistance=D(amount),
                        admission_date=date(2023, m, 1), discharge_date=date(2023, m, 2), computation=LINES[line])
        elif s[0] == "all_zero":  # one set-based statement over many rows and people
            Bill.objects.filter(person=people[s[1]]).update(total_assistance=D("0.00"))
            Bill.objects.filter(person=people[(s[1] + 1) % 4]).update(total_assistance=D("1.00"))
        elif not bills:
            continue
        elif s[0] == "amount":
            Bill.objects.filter(pk=bills[s[1] % len(bills)]).update(total_assistance=D(s[2]))
        elif s[0] == "move":
            _, i, d, m, line = s
            Bill.objects.filter(pk=bills[i % len(bills)]).update(
                district=districts[d], discharge_date=date(2023, m, 2), admission_date=date(2023, m, 1),
                computation=LINES[line])
        elif s[0] == "person":
            Bill.objects.filter(pk=bills[s[1] % len(bills)]).update(person=people[s[2]])
        elif s[0] == "delete":
            Bill.objects.filter(pk=bills[s[1] % len(bills)]).delete()
        _agrees()


def test_a_person_in_two_districts_counts_once_in_the_region_and_once_everywhere(places, auditor, caseworker):
    """累计救助人数 of the 合计 counts each person once, also when two districts handled their bills:
    the region's figure is not the sum of its districts'."""
    from tests.factories import BillFactory

    a, b, far = places["districts"]
    p, q = places["people"][:2]
    for district, month in ((a, 2), (b, 5), (far, 7)):
        BillFactory(person=p, district=district, total_assistance=D("10.00"), computation=LINES[0],
                    admission_date=date(2023, month, 1), discharge_date=date(2023, month, 3))
    BillFactory(person=q, district=b, total_assistance=D("20.00"), computation=LINES[1],
                admission_date=date(2023, 5, 1), discharge_date=date(2023, 5, 3))
    _agrees()
    table = reporting.fund_expenditure(auditor, {"year": 2023, "month": None, "district": None})
    assert table.totals["ytd_persons"] == 2  # region 北京: p (two districts) and q
    assert sum(r["ytd_persons"] for r in table.rows) == 3  # rows count p once per district
    assert reporting.fund_expenditure(auditor, {"year": 2023, "month": 5, "district": None}).totals["month_persons"] == 2
    assert reporting.fund_expenditure(caseworker, {"year": 2023, "month": None, "district": None}).totals["ytd_persons"] == 1
    assert aggregate.people_counts(grain="all_first", year=2023, unit_ids=[0], months=(1, 12)) == {(0,): 2}
    assert aggregate.people_counts(grain="all_first", year=2023, unit_ids=[0], months=(1, 4)) == {(0,): 1}


def _report_reference(user, data) -> tuple[dict[tuple, tuple[int, int]], tuple[int, int]]:
    """The fund report's people per row and in the 合计 the old way: distinct people of the
    scan in the user's scope (the reference implementation of the per-request count)."""
    from organizations.access import restrict
    from organizations.models import District
    from reports.models import FundMonth

    months = restrict(FundMonth.objects.all(), user, district="district").filter(
        year=data["year"], month__lte=data.get("month") or 12, bills__gt=0)
    if data.get("district"):
        months = months.filter(district=data["district"])
    allowed = set(months.values_list("district_id", flat=True).distinct())
    last = data.get("month") or 12
    names = dict(District.objects.values_list("pk", "name"))
    ytd: dict[tuple, set] = defaultdict(set)
    month: dict[tuple, set] = defaultdict(set)
    everyone_ytd, everyone_month = set(), set()
    for (d, y, m, cat, vc, vt, person), (_fen, n, *_p) in aggregate.scan().items():
        if y != data["year"] or m > last or n <= 0 or d not in allowed:
            continue
        source = (names[d], cat, vc, vt)
        ytd[source].add(person)
        everyone_ytd.add(person)
        if m == last:
            month[source].add(person)
            everyone_month.add(person)
    rows: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for source in set(ytd) | set(month):
        key = (source[0], source[1], source[2] or source[3])
        rows[key][0] += len(ytd[source])
        rows[key][1] += len(month[source])
    return {k: tuple(v) for k, v in rows.items()}, (len(everyone_ytd), len(everyone_month))


def test_fund_report_people_and_totals_equal_the_reference_and_the_rows(places, auditor, caseworker):
    """Every row's 累计/本月救助人数 and the 合计's equal the distinct people of the scan; the 合计's
    amounts and bills equal the sum of the rows (a printed total that disagrees is a money defect)."""
    from tests.factories import BillFactory

    districts, people = places["districts"], places["people"]
    for i in range(24):
        BillFactory(person=people[i % 4], district=districts[i % 2], total_assistance=D(f"{i + 1}.5{i % 10}"),
                    computation=LINES[i % 3], admission_date=date(2023, 1 + i % 12, 1),
                    discharge_date=date(2023, 1 + i % 12, 2))
    for user in (auditor, caseworker):
        for data in ({"year": 2023, "month": None, "district": None}, {"year": 2023, "month": 6, "district": None},
                     {"year": 2023, "month": 3, "district": districts[0]}):
            table = reporting.fund_expenditure(user, data)
            rows, (ytd, month) = _report_reference(user, data)
            # rows are keyed by labels; the reference by codes: compare the multisets of figures
            got = sorted((r["ytd_persons"], r["month_persons"]) for r in table.rows if not r["relief"])
            assert got == sorted(v for v in rows.values() if v != (0, 0))
            assert (table.totals["ytd_persons"], table.totals["month_persons"]) == (ytd, month)
            for column in ("month_amount", "ytd_amount", "month_bills", "ytd_bills"):
                assert table.totals[column] == sum(r[column] for r in table.rows), column


def test_fund_report_counts_no_distinct_people_per_request(places, auditor, caseworker):
    """Issue 20: city-wide (region), district and everyone's report read the people level: no
    COUNT(DISTINCT …) and no read of the person level (one row per person-month)."""
    from django.contrib.auth import get_user_model

    from tests.factories import BillFactory

    for i in range(6):
        BillFactory(person=places["people"][i % 4], district=places["districts"][i % 3], total_assistance=D("3.00"),
                    computation=LINES[i % 3])
    root = get_user_model().objects.create_superuser("people-root", password="x")  # noqa: S106
    for user in (auditor, caseworker, root):
        with CaptureQueriesContext(connection) as ctx:
            table = reporting.fund_expenditure(user, {"year": 2023, "month": None, "district": None})
        assert table.totals["ytd_persons"] > 0
        sql = [q["sql"] for q in ctx.captured_queries]
        assert not any("DISTINCT" in s.upper() for s in sql), sql
        assert not any('"reports_fundmonth"' in s for s in sql), sql
    assert reporting.fund_expenditure(root, {"year": 2023, "month": None, "district": None}).totals["ytd_persons"] == 4


def test_check_finds_and_repairs_a_people_level_difference(places):
    from reports.models import FundPeople, FundPersonMark
    from tests.factories import BillFactory

    BillFactory(person=places["people"][0], district=places["districts"][0], total_assistance=D("5.00"),
                computation=LINES[0])
    assert aggregate.check() == []
    FundPeople.objects.create(grain="all_first", unit_id=0, year=2023, month=3, people=1)
    FundPersonMark.objects.filter(grain="line_first").update(month=4)
    found = aggregate.check(repair=True)
    assert sorted(d.what for d in found if isinstance(d, aggregate.PeopleDifference)) == ["mark", "people"]
    assert aggregate.check() == []
    _agrees()


def test_backfill_gives_what_the_triggers_kept_and_compact_changes_no_figure(places):
    """The migration's backfill (``install_people_level``, raw SQL of both databases) rewrites the
    people level to exactly what the triggers had kept; folding its delta rows changes nothing."""
    from claims.models import Bill
    from reports.models import FundPeople, FundPersonMark
    from tests.factories import BillFactory

    for i in range(8):
        BillFactory(person=places["people"][i % 4], district=places["districts"][i % 3], total_assistance=D("2.00"),
                    computation=LINES[i % 3], admission_date=date(2023, 1 + i, 1), discharge_date=date(2023, 1 + i, 2))
    Bill.objects.filter(person=places["people"][0]).update(total_assistance=D("0.00"))

    def figures():
        from django.db.models import Sum

        people = {tuple(g[k] for k in aggregate.PEOPLE_KEYS): g["n"]
                  for g in FundPeople.objects.values(*aggregate.PEOPLE_KEYS).annotate(n=Sum("people")).order_by()}
        marks = set(FundPersonMark.objects.exclude(month=0).values_list(*aggregate.MARK_KEYS, "month"))
        return {k: v for k, v in people.items() if v}, marks

    kept = figures()
    aggregate.install_people_level()
    assert figures() == kept
    aggregate.compact()
    assert figures() == kept
    assert FundPeople.objects.filter(people=0).count() == 0
    _agrees()
