"""Fixtures for the monitoring tests: a small Beijing world with statistics and bills."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from organizations.models import RegionStatistic
from tests.factories import BillFactory, CertificationFactory, HouseholdFactory, PersonFactory, RegionFactory, category


@pytest.fixture
def beijing(db):
    region = RegionFactory()
    for year, income in ((2022, "77415.00"), (2023, "81752.00"), (2024, "85415.00")):
        RegionStatistic.objects.update_or_create(
            region=region, year=year,
            defaults={"per_capita_disposable_income": Decimal(income), "resident_contribution": Decimal("380.00")},
        )
    return region


@pytest.fixture
def world(beijing, district):
    """Three people: a 低保 beneficiary with two bills, a non-beneficiary with one, and a third
    without bills. Each in a household of their own."""
    households = [HouseholdFactory(district=district) for _ in range(3)]
    alice = PersonFactory(hukou_district=district, household=households[0], relation="head")
    bob = PersonFactory(hukou_district=district, household=households[1], relation="head")
    carol = PersonFactory(hukou_district=district, household=households[2], relation="head")
    CertificationFactory(person=alice, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    a1 = BillFactory(person=alice, admission_date=date(2023, 3, 1), discharge_date=date(2023, 3, 10))
    a2 = BillFactory(person=alice, admission_date=date(2023, 6, 1), discharge_date=date(2023, 6, 5),
                     total_cost=Decimal("200000.00"), policy_scope_cost=Decimal("200000.00"),
                     basic_paid=Decimal("20000.00"))
    b1 = BillFactory(person=bob, admission_date=date(2023, 5, 1), discharge_date=date(2023, 5, 20),
                     total_cost=Decimal("90000.00"), policy_scope_cost=Decimal("80000.00"),
                     basic_paid=Decimal("30000.00"))
    return {"alice": alice, "bob": bob, "carol": carol, "households": households, "bills": [a1, a2, b1]}


def snapshot() -> dict:
    """Everything a run may write, as comparable plain data."""
    from claims.models import Bill, LedgerBucket, PaymentAdjustment, PersonYearLedger
    from monitoring.models import EarlyWarning

    return {
        "bills": list(Bill.objects.order_by("pk").values_list(
            "pk", "policy_id", "assistance", "tilted", "special", "total_assistance", "category", "computation",
            "computation_digest")),
        "ledgers": list(PersonYearLedger.objects.order_by("person_id", "year").values_list(
            "person_id", "year", "deductible_used", "tilted_base", "total_assistance", "bills_counted")),
        "buckets": list(LedgerBucket.objects.order_by("ledger__person_id", "ledger__year", "bucket").values_list(
            "ledger__person_id", "ledger__year", "bucket", "cap", "used", "clause")),
        "adjustments": list(PaymentAdjustment.objects.order_by("bill_id", "pk").values_list(
            "bill_id", "kind", "amount", "paid_amount", "computed_amount", "status")),
        "warnings": list(EarlyWarning.objects.order_by("household_id", "year", "kind").values_list(
            "household_id", "year", "kind", "burden", "threshold", "status")),
    }
