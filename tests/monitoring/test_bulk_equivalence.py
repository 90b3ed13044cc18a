"""The bulk chunk path and claims' per-person-year service give the same database."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from claims import services as claim_services
from claims.models import Bill, BillStatus
from monitoring import services
from tests.factories import BillFactory, CertificationFactory, PersonFactory, category

from .conftest import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(world, district):
    """Several statuses, years, identities and a paid bill."""
    alice, bob = world["alice"], world["bob"]
    dave = PersonFactory(hukou_district=district)
    CertificationFactory(person=dave, category=category("extreme_poverty"), valid_from=date(2022, 1, 1),
                         valid_until=date(2023, 4, 30))
    CertificationFactory(person=dave, category=category("minimum_living"), valid_from=date(2023, 4, 1))
    BillFactory(person=dave, visit_type="outpatient", admission_date=date(2023, 4, 20), discharge_date=date(2023, 4, 20),
                total_cost=Decimal("12000.00"), policy_scope_cost=Decimal("12000.00"), basic_paid=Decimal("1000.00"))
    BillFactory(person=dave, visit_type="outpatient", admission_date=date(2023, 5, 20), discharge_date=date(2023, 5, 20),
                total_cost=Decimal("12000.00"), policy_scope_cost=Decimal("12000.00"), basic_paid=Decimal("1000.00"))
    BillFactory(person=dave, admission_date=date(2024, 1, 3), discharge_date=date(2024, 1, 9))
    BillFactory(person=alice, status=BillStatus.SUBMITTED, admission_date=date(2023, 7, 1), discharge_date=date(2023, 7, 2))
    BillFactory(person=alice, status=BillStatus.HOSPITAL_PAID, hospital_assistance_paid=Decimal("1000.00"),
                admission_date=date(2023, 8, 1), discharge_date=date(2023, 8, 2))
    BillFactory(person=bob, status=BillStatus.REJECTED, admission_date=date(2023, 9, 1), discharge_date=date(2023, 9, 2))
    return world


def test_bulk_chunk_equals_recompute_person_year(mixed):
    person_years = sorted({(b.person_id, b.discharge_date.year) for b in Bill.objects.exclude(status=BillStatus.REJECTED)})
    for person_id, year in person_years:
        claim_services.recompute_person_year(person_id=person_id, year=year)
    by_service = snapshot()
    # Reset the computed figures, then the bulk path from scratch.
    from claims.models import PaymentAdjustment, PersonYearLedger

    PaymentAdjustment.objects.all().delete()
    PersonYearLedger.objects.all().delete()
    Bill.objects.update(policy=None, assistance=0, tilted=0, special=0, total_assistance=0, category="",
                        computation={}, computed_at=None)
    run = services.run_synchronously(full=True)
    assert run.status == "succeeded", run.errors
    by_bulk = snapshot()
    for key in ("bills", "ledgers", "buckets", "adjustments"):
        assert by_bulk[key] == by_service[key], key
    # and the service agrees there is nothing left to change
    for person_id, year in person_years:
        outcome = claim_services.recompute_person_year(person_id=person_id, year=year, dry_run=True)
        assert outcome.bills_changed == 0 and not outcome.ledger_changed and outcome.adjustments_created == 0


def test_result_dict_without_lines_is_to_dict_minus_lines(mixed):
    """The cheap comparison form used by the bulk path agrees with the engine's to_dict."""
    from monitoring.bulk import result_dict_without_lines, without_lines

    services.run_synchronously(full=True)
    bills = Bill.objects.exclude(status=BillStatus.REJECTED).select_related("person", "institution")
    assert bills.count() >= 8
    for bill in bills:
        result = claim_services.bill_compute_preview(bill=bill)
        assert result is not None
        assert result_dict_without_lines(result) == without_lines(result.to_dict())
    # and what is stored compares equal the same way
    for bill in Bill.objects.filter(status__in=["recorded", "hospital_paid"]):
        assert "lines" in bill.computation["explanation"]


@pytest.mark.postgres
def test_stored_hash_matches_the_canonical_jsonb_text(mixed):
    """PostgreSQL: the md5 the chunk reads equals the md5 of the new dict in jsonb's text form."""
    from django.db import connection

    from monitoring.bulk import result_dict_without_lines, same_computation, stored_computation_without_lines

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: elsewhere the chunk compares dicts")
    services.run_synchronously(full=True)
    rows = Bill.objects.filter(status__in=["recorded", "hospital_paid"]).annotate(
        stored=stored_computation_without_lines()).select_related("person", "institution")
    for bill in rows:
        result = claim_services.bill_compute_preview(bill=bill) if bill.status == "recorded" else None
        if result is not None and result.total == bill.total_assistance:
            assert same_computation(bill.stored, result_dict_without_lines(result))
