"""POLICY.md §4 scenarios (policies/scenarios) through the whole application path: rows in the
database, the civil-affairs assessment, gathering from claims, the engine, the stored figures."""
from __future__ import annotations

from decimal import Decimal

import pytest

from applications.models import Status

from .conftest import build_case, load_case
from .workflow import receive, to_reviewing

APPLICATION_CASES = ["bj-app-bands", "bj-app-cap", "bj-app-household", "nb-retroactive-60"]


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


# policies/scenarios/nb-retroactive-excludes-application-day.yaml (POLICY.md §9), inline: the engine's
# own scenario file belongs to the rules lane; this is the application path's half of it.
NB_APPLICATION_DAY_CASE = {
    "name": "nb-retroactive-excludes-application-day", "policy": "ningbo-2019",
    "application": {"date": "2024-06-15"},
    "household": [{"role": "patient",
                   "certifications": [{"category": "illness_poverty_patient", "valid_from": "2024-06-15"}],
                   "bills": [
                       {"id": "b1", "visit_type": "inpatient", "start": "2024-06-01", "end": "2024-06-15",
                        "total_cost": "30000.00", "policy_scope_cost": "30000.00", "basic_paid": "10000.00",
                        "critical_paid": "0.00", "other_paid": "0.00"},
                       {"id": "b2", "visit_type": "inpatient", "start": "2024-03-01", "end": "2024-03-10",
                        "total_cost": "20000.00", "policy_scope_cost": "20000.00", "basic_paid": "10000.00",
                        "critical_paid": "0.00", "other_paid": "0.00"}]}],
}


@pytest.mark.django_db
def test_policy_9_ningbo_3_2_1_bill_settled_on_the_application_day_is_assessed_per_bill_only():
    """三(二)1 "申请前12个月内": b1 settles ON the application day (the certification's first day):
    per-bill assistance only (70% of 20,000 = 14,000), never also 60% relief. Relief = 60% × b2's
    10,000 = 6,000 (the old code counted b1 too: 18,000 relief on top of b1's own assistance)."""
    from datetime import date

    from claims.services import recompute_person_year

    district, household, patient, bills, staff = build_case(NB_APPLICATION_DAY_CASE)
    application = receive(household=household, patient=patient, caseworker=staff["caseworker"], on=date(2024, 6, 15))
    application = to_reviewing(application, caseworker=staff["caseworker"], certifier=staff["certifier"])
    assert (application.period_start, application.period_end) == (date(2023, 6, 16), date(2024, 6, 14))
    assert application.relief == Decimal("6000.00") and application.burden == Decimal("10000.00")
    assert bills["b1"].pk not in set(application.counted_bills.values_list("bill_id", flat=True))
    recompute_person_year(person_id=patient.pk, year=2024)
    bills["b1"].refresh_from_db()
    assert bills["b1"].total_assistance == Decimal("14000.00")  # per bill, NB-70
    assert bills["b1"].total_assistance + application.relief <= Decimal("20000.00") + Decimal("10000.00")
