"""A decision stands until it is corrected (issue 12): decision order, correction decisions with
their own letter and payment adjustment, a damaged ledger left alone, one recalculation core,
late statistics reach the bills. Each test fails on the code before issue 12."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from claims import money, services
from claims.models import AdjustmentKind, Bill, Claim, Correction, LedgerBucket, LedgerRepair, PaymentAdjustment
from organizations import roles
from tests.factories import BillFactory, CertificationFactory, category, make_staff

from .conftest import bill_data

pytestmark = pytest.mark.django_db

D = Decimal


def _letters_in_force(claim_ids):
    from reports.models import Letter

    return list(Letter.objects.filter(claim_id__in=claim_ids, kind="claim_approved", replaced_by__isnull=True))


def test_decision_stands_approvals_out_of_discharge_order_never_reduce_an_earlier_grant(
        make_claim, reviewer, institution, django_capture_on_commit_callbacks):
    """BJ-3 outpatient: 80% within 8,000 a year. Twelve claims of 1,000 burden (800 each) settled
    in December back to January, approved one after another: the first ten get 800, the last two
    0 (cap exhausted), and no approval ever changes an earlier one's grant or its letter. (The old
    recomputation in settlement order cut the earlier approvals to 0 while their 800 letters stood.)"""
    claims = [make_claim(bills=[bill_data(institution, burden="1000.00", visit_type="outpatient",
                                          discharge=date(2023, 12 - i, 10))]) for i in range(12)]
    granted: dict[int, Decimal] = {}
    for claim in claims:
        with django_capture_on_commit_callbacks(execute=True):
            services.claim_approve(claim=claim, reviewer=reviewer)
        claim.refresh_from_db()
        granted[claim.pk] = claim.approved_amount
        for pk, amount in granted.items():  # every earlier grant is untouched
            assert Claim.objects.get(pk=pk).approved_amount == amount
    assert [granted[c.pk] for c in claims] == [D("800.00")] * 10 + [D("0.00")] * 2
    assert sum(granted.values()) == D("8000.00")
    bucket = LedgerBucket.objects.get(ledger__person=claims[0].person, ledger__year=2023, bucket="outpatient")
    assert bucket.used == D("8000.00") == bucket.cap
    letters = _letters_in_force([c.pk for c in claims])
    if letters:  # the letters app issues them; their amounts are the grants
        assert sum((letter.amount for letter in letters), D("0.00")) == D("8000.00")
    # and the nightly run afterwards changes nothing
    from monitoring import services as monitoring

    run = monitoring.run_synchronously(full=True)
    assert run.bills_changed == 0 and not Correction.objects.exists()
    assert [Claim.objects.get(pk=c.pk).approved_amount for c in claims] == [granted[c.pk] for c in claims]


def test_decision_stands_a_later_change_becomes_a_correction_with_letter_and_recovery(
        make_claim, person, reviewer, caseworker, django_capture_on_commit_callbacks):
    """A retroactive change (the identity backdated to start after the stay) after payment: the
    grant and the payment stand, a correction 17,000 → 0 is proposed; a second person approves it:
    the grant becomes 0, one open 追回 of 17,000 is recorded on the bill for the recovery work, and
    a correction letter replaces the approval letter."""
    claim = make_claim()
    with django_capture_on_commit_callbacks(execute=True):
        services.claim_approve(claim=claim, reviewer=reviewer)
    batch = services.payment_batch_create(claims=[claim], by=caseworker)
    services.payment_batch_mark_paid(batch=batch, reference="R1", by=caseworker)
    cert = person.certifications.get()
    cert.valid_from = date(2023, 6, 1)
    cert.save()
    services.recompute_person_year(person_id=person.pk, year=2023)
    claim.refresh_from_db()
    bill = claim.bills.get()
    assert bill.total_assistance == D("0.00")
    assert claim.approved_amount == D("17000.00") and money.bill_granted(bill) == D("17000.00")  # stands
    assert not PaymentAdjustment.objects.exists()  # nothing is paid or recovered before the review
    correction = Correction.objects.get(claim=claim, status=Correction.Status.PROPOSED)
    assert (correction.granted_before, correction.granted_after) == (D("17000.00"), D("0.00"))
    # idempotent: the nightly run proposes nothing more
    services.recompute_person_year(person_id=person.pk, year=2023)
    assert Correction.objects.filter(claim=claim).count() == 1
    # a new approval waits for the correction (the room it frees is not decided yet)
    other = make_claim(bills=[bill_data(claim.bills.get().institution, discharge=date(2023, 7, 10))])
    with pytest.raises(ValidationError) as exc:
        services.claim_approve(claim=other, reviewer=reviewer)
    assert exc.value.code == "correction_pending"
    with django_capture_on_commit_callbacks(execute=True):
        services.correction_approve(correction=correction, reviewer=reviewer, note="认定起始日期更正")
    claim.refresh_from_db()
    bill.refresh_from_db()
    assert claim.approved_amount == D("0.00") and bill.granted_amount == D("0.00")
    assert bill.paid_amount == D("17000.00")  # what was paid is history
    adj = PaymentAdjustment.objects.get(bill=bill)
    assert (adj.kind, adj.amount, adj.status, adj.correction_id) == (AdjustmentKind.RECOVERY, D("17000.00"), "open",
                                                                    correction.pk)
    letters = _letters_in_force([claim.pk])
    if letters:
        [letter] = letters
        assert letter.replaces_id is not None and letter.amount == D("0.00")
    # afterwards the person-year is consistent: nothing more to propose, the next approval goes ahead
    assert services.recompute_person_year(person_id=person.pk, year=2023).bills_changed == 0
    assert not Correction.objects.filter(status=Correction.Status.PROPOSED).exists()
    services.claim_approve(claim=other, reviewer=reviewer)


def test_decision_stands_correction_needs_a_second_person(make_claim, person, reviewer, caseworker, district):
    claim = services.claim_approve(claim=make_claim(), reviewer=reviewer)
    CertificationFactory(person=person, category=category("extreme_poverty"))  # BJ-1: 100%
    correction = services.correction_propose(claim=claim, by=reviewer, reason="补录特困认定")
    assert (correction.granted_before, correction.granted_after) == (D("17000.00"), D("20000.00"))
    with pytest.raises(ValidationError) as exc:
        services.correction_approve(correction=correction, reviewer=reviewer)
    assert exc.value.code == "four_eyes"
    second = make_staff(roles.REVIEWER, district=district, username="reviewer-2")
    services.correction_approve(correction=correction, reviewer=second)
    claim.refresh_from_db()
    assert claim.approved_amount == D("20000.00")
    assert not PaymentAdjustment.objects.exists()  # unpaid: the new amount is simply what will be paid


def test_one_core_a_damaged_ledger_is_reported_and_left_alone_by_every_path(make_claim, person, reviewer, institution):
    """The approval path refuses (it used to rewrite the ledger silently), the recompute and the
    nightly run report and skip; only ledger_repair rewrites it, and says so."""
    from monitoring import services as monitoring

    BillFactory(person=person, institution=institution, admission_date=date(2023, 2, 1), discharge_date=date(2023, 2, 10))
    services.recompute_person_year(person_id=person.pk, year=2023)
    LedgerBucket.objects.filter(ledger__person=person, ledger__year=2023).update(used=D("1.00"))  # around the lock
    claim = make_claim()
    with pytest.raises(ValidationError) as exc:
        services.claim_approve(claim=claim, reviewer=reviewer)
    assert exc.value.code == "ledger_damaged"
    assert LedgerBucket.objects.get(ledger__person=person, ledger__year=2023).used == D("1.00")
    outcome = services.recompute_person_year(person_id=person.pk, year=2023)
    assert outcome.skipped and outcome.errors
    run = monitoring.run_synchronously(full=True)
    assert any(v["code"] == "ledger_mismatch" for v in run.invariant_violations)
    assert LedgerBucket.objects.get(ledger__person=person, ledger__year=2023).used == D("1.00")
    repair = services.ledger_repair(person_id=person.pk, year=2023, by=reviewer, reason="核查：导入脚本误写")
    assert LedgerRepair.objects.count() == 1 and repair.violations
    assert repair.before["buckets"]["inpatient"]["used"] == "1.00"
    assert LedgerBucket.objects.get(ledger__person=person, ledger__year=2023).used == D("17000.00")
    claim.refresh_from_db()
    services.claim_approve(claim=claim, reviewer=reviewer)


def test_one_core_service_and_nightly_paths_call_the_same_function(person, institution, monkeypatch):
    from claims import recalc
    from monitoring import services as monitoring

    BillFactory(person=person, institution=institution)
    calls = []
    real = recalc.recompute_chunk

    def spy(**kwargs):
        calls.append("person_years" if kwargs.get("person_years") is not None else "range")
        return real(**kwargs)

    monkeypatch.setattr(recalc, "recompute_chunk", spy)
    monkeypatch.setattr("monitoring.bulk.recompute_chunk", spy)
    services.recompute_person_year(person_id=person.pk, year=2023)
    monitoring.run_synchronously(full=True)
    assert calls == ["person_years", "range"]


def test_recalculation_a_statistic_recorded_late_reaches_the_incremental_run(district):
    """因病致贫 threshold = 50% of the previous year's income: with 2022 missing there is no
    warning; recording it late, the incremental run (not only --full) creates it."""
    from monitoring import services as monitoring
    from monitoring.models import EarlyWarning
    from organizations.models import RegionStatistic
    from tests.factories import HouseholdFactory, PersonFactory

    region = district.region
    household = HouseholdFactory(district=district)
    person = PersonFactory(hukou_district=district, household=household, insured_region=region)
    BillFactory(person=person, total_cost=D("90000.00"), policy_scope_cost=D("80000.00"), basic_paid=D("20000.00"))
    RegionStatistic.objects.filter(region=region).delete()
    monitoring.run_synchronously(full=True)
    assert not EarlyWarning.objects.exists()
    RegionStatistic.objects.create(region=region, year=2022, per_capita_disposable_income=D("77415.00"))
    RegionStatistic.objects.create(region=region, year=2023, per_capita_disposable_income=D("81752.00"))
    run = monitoring.run_synchronously()
    assert not run.full
    assert EarlyWarning.objects.filter(household=household, year=2023).exists()


def test_money_granted_is_what_letters_batches_and_reports_use(make_claim, reviewer, caseworker):
    """Paying pays the grant, even while a recomputation found another figure."""
    claim = make_claim()
    services.claim_approve(claim=claim, reviewer=reviewer)
    Bill.objects.filter(claim=claim).update(total_assistance=D("1.00"))  # a later figure, not decided
    batch = services.payment_batch_create(claims=[claim], by=caseworker)
    services.payment_batch_mark_paid(batch=batch, reference="R2", by=caseworker)
    batch.refresh_from_db()
    assert batch.total_amount == D("17000.00") == claim.bills.get().paid_amount


def test_one_core_repair_ledger_command_is_explicit_and_logged(person, institution):
    from io import StringIO

    from django.core.management import call_command

    BillFactory(person=person, institution=institution, admission_date=date(2023, 2, 1), discharge_date=date(2023, 2, 10))
    services.recompute_person_year(person_id=person.pk, year=2023)
    out = StringIO()
    call_command("repair_ledger", person=person.pk, year=2023, reason="检查", stdout=out)
    assert "left alone" in out.getvalue() and not LedgerRepair.objects.exists()
    LedgerBucket.objects.filter(ledger__person=person).update(used=D("5.00"))
    call_command("repair_ledger", person=person.pk, year=2023, reason="检查", dry_run=True, stdout=out)
    assert LedgerBucket.objects.get(ledger__person=person).used == D("5.00")
    call_command("repair_ledger", person=person.pk, year=2023, reason="导入脚本误写", stdout=out)
    assert LedgerBucket.objects.get(ledger__person=person).used == D("17000.00")
    assert LedgerRepair.objects.get().reason == "导入脚本误写"


def test_decision_order_the_simulation_replays_bills_as_the_core_decided_them(
        make_claim, reviewer, institution, django_capture_on_commit_callbacks):
    """The what-if replay's "now" is the core's figure bill by bill: claims approved out of
    discharge order (December, then November, then October) keep their grants in the replay too.
    (In settlement order the replay gave October 4,000 and December 0, the reverse of the letters.)"""
    from policies.selectors import spec_of
    from simulation.replay import replay_people

    claims = [make_claim(bills=[bill_data(institution, burden="5000.00", visit_type="outpatient",
                                          discharge=date(2023, 12 - i, 10))]) for i in range(3)]
    for claim in claims:
        with django_capture_on_commit_callbacks(execute=True):
            services.claim_approve(claim=claim, reviewer=reviewer)
    stored = {b.pk: b.total_assistance for b in Bill.objects.filter(claim__in=claims)}
    assert sorted(stored.values()) == [D("0.00"), D("4000.00"), D("4000.00")]
    person = claims[0].person
    policy = Bill.objects.filter(claim__in=claims).first().policy
    (year,) = replay_people(region_id=person.insured_region_id, district_id=None, start=date(2023, 1, 1),
                            end=date(2023, 12, 31), draft_spec=spec_of(policy), lo=person.pk, hi=person.pk)
    replayed = {row[0]: result.total for row, result in zip(year.rows, year.base, strict=True)}
    assert replayed == stored


def _money_state():
    from claims.models import LedgerBucket

    bills = sorted(Bill.objects.values_list("pk", "total_assistance", "status"))
    buckets = sorted(LedgerBucket.objects.values_list("ledger__person_id", "ledger__year", "bucket", "used"))
    return bills, buckets


def test_recalculation_a_statistic_recorded_corrected_or_deleted_reaches_the_incremental_run(db):
    """Issue 12 "everything that changes an input triggers recomputation … in the incremental run
    too: region statistics": a deleted statistic leaves no row to find, so its deletion is
    recorded (organizations.RegionStatisticDeletion) and the incremental run recomputes the
    region's person-years; what it leaves equals what a full run leaves. National framework
    四(五): 低保边缘 起付标准 = 10% of the previous year's per-capita income."""
    from django.utils import timezone

    from monitoring import services as monitoring
    from organizations.models import RegionStatistic, RegionStatisticDeletion
    from policies.models import Policy
    from tests.factories import DistrictFactory, PersonFactory, RegionFactory

    Policy.objects.filter(code="national-2021").update(confirmed_at=timezone.now())  # the framework, confirmed
    region = RegionFactory(code="650000", name="新疆维吾尔自治区", short_name="新")
    district = DistrictFactory(code="650102", name="天山区", short_name="新天山", region=region)
    person = PersonFactory(hukou_district=district, insured_region=region)
    CertificationFactory(person=person, category=category("marginal_family"), valid_from=date(2022, 1, 1))
    BillFactory(person=person, district=district, admission_date=date(2023, 5, 1), discharge_date=date(2023, 5, 9),
                total_cost=D("50000.00"), policy_scope_cost=D("40000.00"), basic_paid=D("20000.00"))
    monitoring.run_synchronously(full=True)

    def incremental_equals_full(before):
        run = monitoring.run_synchronously()
        assert not run.full and run.person_years_total >= 1
        after_incremental = _money_state()
        assert after_incremental != before  # the deductible moved: the statistic mattered
        check = monitoring.run_synchronously(full=True, dry_run=True)
        assert (check.bills_changed, check.adjustments_created) == (0, 0), "incremental and full disagree"
        monitoring.run_synchronously(full=True)
        assert _money_state() == after_incremental
        return after_incremental

    state = _money_state()
    # recorded late
    stat = RegionStatistic.objects.create(region=region, year=2022, per_capita_disposable_income=D("77415.00"))
    state = incremental_equals_full(state)
    # corrected
    stat.per_capita_disposable_income = D("60000.00")
    stat.save()
    state = incremental_equals_full(state)
    # deleted (recorded in error): nothing is left to find but the deletion record
    RegionStatistic.objects.filter(region=region, year=2022).delete()
    assert RegionStatisticDeletion.objects.filter(region=region, year=2022).exists()
    incremental_equals_full(state)


def test_recalculation_a_statistic_moved_to_another_year_recomputes_the_old_one(district):
    """A correction of the statistic's year (or region) leaves the old key without a statistic:
    recorded like a deletion, so the incremental run also recomputes from the old year."""
    from organizations.models import RegionStatistic, RegionStatisticDeletion

    region = district.region
    RegionStatistic.objects.filter(region=region).delete()
    RegionStatisticDeletion.objects.all().delete()
    stat = RegionStatistic.objects.create(region=region, year=2021, per_capita_disposable_income=D("77415.00"))
    stat.year = 2022
    stat.save()
    assert list(RegionStatisticDeletion.objects.values_list("region_id", "year")) == [(region.pk, 2021)]
