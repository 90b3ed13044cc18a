"""Ningbo 三(二)1: relief on application is paid "within the annual 80,000 bucket of the decision
year" — the same bucket the bills of that year draw on. Approval records the relief on the
person-year ledger (claims ``LedgerDraw``); every recomputation (claims services and the nightly
chunk) starts the year with it taken, so the cap holds for relief and bills together.
"""
from __future__ import annotations

import sys
import types
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from applications import services
from beneficiaries.models import Category, Certification
from claims import services as claim_services
from claims.models import Bill, LedgerBucket, LedgerDraw, PersonYearLedger
from monitoring import services as monitoring_services
from tests.factories import AgencyFactory, BillFactory

from .conftest import build_case, load_case
from .workflow import receive, to_reviewing

pytestmark = pytest.mark.django_db

CAP = Decimal("80000.00")


@pytest.fixture(autouse=True)
def letters(monkeypatch):
    module = types.ModuleType("reports.services")
    module.letter_issue = lambda **kwargs: None
    monkeypatch.setitem(sys.modules, "reports.services", module)


@pytest.fixture
def approved():
    """The nb-retroactive-60 household, its application approved (relief 18,000 on 2024's bucket)."""
    district, household, patient, bills, staff = build_case(load_case("nb-retroactive-60"))
    application = to_reviewing(receive(household=household, patient=patient, caseworker=staff["caseworker"],
                                       on=date(2024, 6, 15)),
                               caseworker=staff["caseworker"], certifier=staff["certifier"])
    services.application_decide(application=application, by=staff["reviewer"], approve=True)
    application.refresh_from_db()
    return {"district": district, "patient": patient, "application": application, "bills": bills}


def big_bill_under_minimum_living(world) -> Bill:
    """The patient becomes a 低保 beneficiary for 2024 and has a large stay in September."""
    patient, district = world["patient"], world["district"]
    category = Category.objects.get(code="minimum_living")
    Certification.objects.create(person=patient, category=category, valid_from=date(2024, 1, 1),
                                 agency=AgencyFactory(kind=category.agency_kind, district=district, region=district.region))
    return BillFactory(person=patient, district=district, institution=world["bills"]["b1"].institution,
                       visit_type="inpatient", admission_date=date(2024, 9, 1), discharge_date=date(2024, 9, 20),
                       total_cost=Decimal("250000.00"), policy_scope_cost=Decimal("250000.00"),
                       basic_paid=Decimal("50000.00"))


def annual_drawn_by_bills(patient, year: int) -> Decimal:
    total = Decimal("0.00")
    for bill in Bill.objects.filter(person=patient, discharge_date__year=year).exclude(computation={}):
        for line in bill.computation["explanation"]["buckets"]:
            if line["name"] == "annual":
                total += Decimal(line["drawn"])
    return total


def test_ningbo_3_2_1_approval_records_the_relief_on_the_ledger(approved):
    application, patient = approved["application"], approved["patient"]
    assert application.relief == Decimal("18000.00")
    draw = LedgerDraw.objects.get(source=LedgerDraw.Source.APPLICATION, source_ref=application.pk)
    assert (draw.ledger.person_id, draw.ledger.year, draw.bucket, draw.amount, draw.cap) == (
        patient.pk, 2024, "annual", Decimal("18000.00"), CAP)
    bucket = LedgerBucket.objects.get(ledger=draw.ledger, bucket="annual")
    assert bucket.used == Decimal("18000.00") and bucket.cap == CAP


def test_ningbo_3_2_1_later_bills_get_only_the_room_the_relief_left(approved):
    patient = approved["patient"]
    big = big_bill_under_minimum_living(approved)
    claim_services.recompute_person_year(person_id=patient.pk, year=2024)
    big.refresh_from_db()
    bucket = LedgerBucket.objects.get(ledger__person=patient, ledger__year=2024, bucket="annual")
    bills_drawn = annual_drawn_by_bills(patient, 2024)
    # bills and relief together exactly exhaust the 80,000 of the decision year, never more
    assert bills_drawn + Decimal("18000.00") == CAP
    assert bucket.used == CAP
    assert "cap_limited" in big.computation["reasons"]
    assert monitoring_services.invariants_check(person_ids=[patient.pk]) == []


def test_ningbo_3_2_1_the_nightly_chunk_agrees_with_the_services(approved):
    patient = approved["patient"]
    big_bill_under_minimum_living(approved)
    claim_services.recompute_person_years(person_years=[(patient.pk, 2023), (patient.pk, 2024)])
    by_service = list(Bill.objects.filter(person=patient).order_by("pk").values_list(
        "pk", "total_assistance", "computation_digest"))
    buckets = list(LedgerBucket.objects.filter(ledger__person=patient).order_by("ledger__year", "bucket")
                   .values_list("ledger__year", "bucket", "cap", "used"))
    # the bulk path from scratch: figures cleared, buckets rebuilt from bills and draws
    Bill.objects.filter(person=patient).update(total_assistance=0, computation={}, computation_digest="",
                                               computed_at=None)
    LedgerBucket.objects.filter(ledger__person=patient).delete()
    PersonYearLedger.objects.filter(person=patient).update(bills_counted=0, total_assistance=0)
    run = monitoring_services.run_synchronously(full=True)
    assert run.status == "succeeded", (run.errors, run.invariant_violations)
    assert list(Bill.objects.filter(person=patient).order_by("pk").values_list(
        "pk", "total_assistance", "computation_digest")) == by_service
    assert list(LedgerBucket.objects.filter(ledger__person=patient).order_by("ledger__year", "bucket")
                .values_list("ledger__year", "bucket", "cap", "used")) == buckets
    again = monitoring_services.run_synchronously(full=True)
    assert again.bills_changed == 0 and again.invariant_violations == []


def test_ningbo_3_2_1_a_ledger_that_forgets_the_relief_is_reported(approved):
    """The invariant counts the draws: a bucket whose used lost the relief is a violation."""
    patient = approved["patient"]
    LedgerBucket.objects.filter(ledger__person=patient, ledger__year=2024, bucket="annual").update(used=0)
    found = monitoring_services.invariants_check(person_ids=[patient.pk])
    assert [(v["code"], v["year"], v["bucket"]) for v in found] == [("ledger_mismatch", 2024, "annual")]


def test_ningbo_3_2_1_room_left_for_the_next_application_comes_from_the_ledger(approved):
    from applications import selectors

    patient, application = approved["patient"], approved["application"]
    used, _note = selectors.annual_bucket_used(person=patient, year=2024, bucket="annual")
    assert used == Decimal("18000.00")  # counted once (ledger), not again from the application
    used_without_it, _note = selectors.annual_bucket_used(person=patient, year=2024, bucket="annual",
                                                          exclude=application)
    assert used_without_it == Decimal("0.00")


def test_ningbo_3_2_1_the_next_incremental_run_recomputes_the_year_the_relief_was_drawn_on(approved):
    """A draw recorded since the last run touches its person-year (pending suggestions must see
    the smaller room), and only that one."""
    patient = approved["patient"]
    monitoring_services.run_synchronously(full=True)
    LedgerDraw.objects.update(created_at=timezone.now() + timedelta(minutes=1))  # recorded after that run
    run = monitoring_services.run_synchronously()
    assert run.status == "succeeded" and not run.full
    assert run.person_years_total == 1
    assert monitoring_services.run_person_ids(run=run) == {patient.pk}


def test_ledger_draw_beyond_the_cap_is_refused_and_nothing_is_written(approved):
    """claims.services.ledger_draw_record never clips: a draw the room cannot hold is refused."""
    from django.core.exceptions import ValidationError
    from django.db import transaction

    patient = approved["patient"]
    with transaction.atomic():
        ledger = claim_services.lock_ledger(person_id=patient.pk, year=2024)
        with pytest.raises(ValidationError) as info:
            claim_services.ledger_draw_record(ledger=ledger, bucket="annual", cap=CAP, amount=Decimal("62000.01"),
                                              clause="", source=LedgerDraw.Source.APPLICATION, source_ref=999_999)
        assert {e.code for e in info.value.error_list} == {"bucket_room"}
        with pytest.raises(ValidationError) as info:
            claim_services.ledger_draw_record(ledger=ledger, bucket="annual", cap=CAP, amount=Decimal("0.00"),
                                              clause="", source=LedgerDraw.Source.APPLICATION, source_ref=999_998)
        assert {e.code for e in info.value.error_list} == {"invalid_amount"}
        # exactly the room left (80,000 − 18,000) is accepted
        claim_services.ledger_draw_record(ledger=ledger, bucket="annual", cap=CAP, amount=Decimal("62000.00"),
                                          clause="", source=LedgerDraw.Source.APPLICATION, source_ref=999_997)
    assert LedgerBucket.objects.get(ledger__person=patient, ledger__year=2024, bucket="annual").used == CAP
    assert not LedgerDraw.objects.filter(source_ref__in=[999_999, 999_998]).exists()


def test_ningbo_3_2_1_the_person_ledger_says_the_relief_is_in_the_bucket(approved):
    """The ledger card explains why the annual bucket's used exceeds what the bills drew."""
    from django.template import Context, Template

    patient, application = approved["patient"], approved["application"]
    html = Template("{% load claims_tags %}{% person_ledger person %}").render(Context({"person": patient}))
    assert "含依申请救助 18,000.00 元" in html
    assert f'href="/applications/{application.pk}/"' in html
