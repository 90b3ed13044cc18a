"""POLICY.md §4 scenarios (policies/scenarios) through the whole application path: rows in the
database, the civil-affairs assessment, gathering from claims, the engine, the stored figures."""
from __future__ import annotations

from decimal import Decimal

import pytest

from applications.models import Status

from .conftest import build_case, load_case
from .workflow import receive, to_reviewing

APPLICATION_CASES = ["bj-app-bands", "bj-app-cap", "bj-app-household", "nb-retroactive-60",
                     "nb-retroactive-excludes-application-day"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", APPLICATION_CASES)
def test_application_scenario_through_workflow(name):
    from datetime import date

    case = load_case(name)
    district, household, patient, bills, staff = build_case(case)
    application = receive(household=household, patient=patient, caseworker=staff["caseworker"],
                          on=date.fromisoformat(case["application"]["date"]))
    application = to_reviewing(application, caseworker=staff["caseworker"], certifier=staff["certifier"])
    expect = case["expect"]["application"]
    assert application.status == Status.REVIEWING
    assert application.relief == Decimal(expect["relief"])
    assert application.burden == Decimal(expect["burden"])
    for reason in expect.get("reasons", []):
        assert reason in application.computation["reasons"]
    assert application.computation["clauses"], "the explanation cites its clauses"


@pytest.mark.django_db
def test_bj_app_household_counts_members_previous_year_designated_only():
    """六(三): previous calendar year, patient and co-resident members, designated institutions."""
    from datetime import date

    case = load_case("bj-app-household")
    district, household, patient, bills, staff = build_case(case)
    application = receive(household=household, patient=patient, caseworker=staff["caseworker"],
                          on=date.fromisoformat(case["application"]["date"]))
    application = to_reviewing(application, caseworker=staff["caseworker"], certifier=staff["certifier"])
    rows = {row.bill_id: row for row in application.counted_bills.all()}
    assert rows[bills["b1"].pk].counted and rows[bills["m1"].pk].counted
    assert bills["b2"].pk not in rows  # 2024 bill: outside the previous calendar year
    assert not rows[bills["m2"].pk].counted and rows[bills["m2"].pk].reason == "non_designated"
    assert (application.period_start, application.period_end) == (date(2023, 1, 1), date(2023, 12, 31))


@pytest.mark.django_db
def test_nb_retroactive_window_is_twelve_months_before_and_inpatient_only():
    """Ningbo 三(二)1: the 12 months before the application date; inpatient burden only."""
    from datetime import date

    case = load_case("nb-retroactive-60")
    district, household, patient, bills, staff = build_case(case)
    application = receive(household=household, patient=patient, caseworker=staff["caseworker"],
                          on=date.fromisoformat(case["application"]["date"]))
    application = to_reviewing(application, caseworker=staff["caseworker"], certifier=staff["certifier"])
    rows = {row.bill_id: row for row in application.counted_bills.all()}
    assert bills["b3"].pk not in rows  # settled 2023-06-10, more than 12 months before
    assert rows[bills["b1"].pk].counted and rows[bills["b2"].pk].counted
    assert not rows[bills["o1"].pk].counted  # outpatient: not in the scheme's visit classes
    assert application.district.region.code == "330200"
