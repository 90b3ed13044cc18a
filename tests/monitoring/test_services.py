"""The recalculation run, end to end through the real claims rules and engine (in process)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from claims.models import Bill, BillStatus, LedgerBucket, PaymentAdjustment, PersonYearLedger
from monitoring import services
from monitoring.models import RecalcChunk, RecalcRun, RunStatus
from tests.factories import BillFactory, CertificationFactory, category

from .conftest import snapshot

pytestmark = pytest.mark.django_db


def full_run(**kwargs) -> RecalcRun:
    run = services.run_synchronously(full=True, **kwargs)
    assert run.status == RunStatus.SUCCEEDED, (run.errors, run.invariant_violations)
    return run


def test_full_run_computes_every_bill_and_rebuilds_ledgers(world):
    run = full_run()
    a1, a2, b1 = (Bill.objects.get(pk=b.pk) for b in world["bills"])
    # 京医保发〔2022〕37号 六(二)3: 85% of the burden, inpatient cap 160,000 per year.
    assert a1.total_assistance == Decimal("17000.00")
    assert a2.total_assistance == Decimal("143000.00")  # 153,000 cut to the 143,000 room left
    assert "cap_limited" in a2.computation["reasons"]
    assert b1.total_assistance == Decimal("0.00")  # not a beneficiary
    ledger = PersonYearLedger.objects.get(person=world["alice"], year=2023)
    assert ledger.buckets.get(bucket="inpatient").used == Decimal("160000.00")
    assert ledger.bills_counted == 2
    assert run.bills_changed == 3 and run.person_years_total == 2
    assert run.chunks_done == run.chunks_total == 1
    assert run.invariant_violations == []


def test_idempotent_second_run_changes_nothing(world):
    full_run()
    before = snapshot()
    again = full_run()
    assert snapshot() == before
    assert again.bills_changed == 0 and again.adjustments_created == 0


def test_incremental_run_recomputes_only_touched_person_years(world):
    full_run()
    # Bob is certified 低保 backdated to 2023-01-01 (a late certification): his 2023 is touched.
    CertificationFactory(person=world["bob"], category=category("minimum_living"), valid_from=date(2023, 1, 1))
    run = services.run_synchronously()
    assert run.status == RunStatus.SUCCEEDED
    assert not run.full and run.since is not None
    assert run.person_years_total == 1  # Bob 2023 only; Alice is not recomputed
    assert run.bills_changed == 1
    assert Bill.objects.get(pk=world["bills"][2].pk).total_assistance == Decimal("42500.00")  # 50,000 × 85%


def test_incremental_equals_full_on_the_same_changes(world):
    full_run()
    CertificationFactory(person=world["bob"], category=category("minimum_living"), valid_from=date(2023, 1, 1))
    BillFactory(person=world["alice"], admission_date=date(2023, 9, 1), discharge_date=date(2023, 9, 3))
    services.run_synchronously()
    incremental = snapshot()
    full_run()
    assert snapshot()["bills"] == incremental["bills"]
    assert snapshot()["buckets"] == incremental["buckets"]


def test_incremental_run_picks_up_a_bill_changed_since_the_last_run(world):
    """An edited bill (here its amounts and its year) is recomputed by the next incremental run,
    in every year of the person: the year it left as well as the year it moved to."""
    full_run()
    a1 = Bill.objects.get(pk=world["bills"][0].pk)
    a1.admission_date, a1.discharge_date = date(2024, 3, 1), date(2024, 3, 10)
    a1.save()  # Bill.updated_at moves; nothing is recomputed yet
    run = services.run_synchronously()
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.person_years_total == 2  # Alice 2023 (one bill fewer) and Alice 2024 (one bill)
    ledger_2023 = PersonYearLedger.objects.get(person=world["alice"], year=2023)
    assert ledger_2023.bills_counted == 1
    assert ledger_2023.buckets.get(bucket="inpatient").used == Decimal("153000.00")  # a2 alone, under the cap
    assert PersonYearLedger.objects.get(person=world["alice"], year=2024).bills_counted == 1
    assert Bill.objects.get(pk=world["bills"][1].pk).total_assistance == Decimal("153000.00")
    assert run.invariant_violations == []


def test_recomputed_figures_do_not_count_as_a_change_to_the_bill(world):
    """The nightly writes figures without touching updated_at, so a quiet night stays quiet."""
    full_run()
    stamps = dict(Bill.objects.values_list("pk", "updated_at"))
    CertificationFactory(person=world["bob"], category=category("minimum_living"), valid_from=date(2023, 1, 1))
    services.run_synchronously()
    assert dict(Bill.objects.values_list("pk", "updated_at")) == stamps
    quiet = services.run_synchronously()
    assert quiet.person_years_total == 0 and quiet.chunks_total == 0


def test_backdated_certification_touches_every_year_from_valid_from(world):
    """A certification backdated into 2023 recomputes 2023 and 2024 of that person."""
    BillFactory(person=world["bob"], admission_date=date(2024, 2, 1), discharge_date=date(2024, 2, 3))
    full_run()
    CertificationFactory(person=world["bob"], category=category("minimum_living"), valid_from=date(2023, 4, 1))
    run = services.run_synchronously()
    assert run.person_years_total == 2


def test_revocation_with_past_date_is_recomputed(world):
    """Revoking Alice's 低保 as of 2023-05-31 (after the fact) takes her June stay out of cover."""
    full_run()
    cert = world["alice"].certifications.get()
    cert.valid_until = date(2023, 5, 31)
    cert.revocation_reason = "收入超标"
    cert.revoked_at = timezone.now()
    cert.save()
    run = services.run_synchronously()
    assert run.status == RunStatus.SUCCEEDED and run.person_years_total == 1
    a2 = Bill.objects.get(pk=world["bills"][1].pk)
    assert a2.total_assistance == Decimal("0.00") and "not_eligible" in a2.computation["reasons"]
    assert LedgerBucket.objects.get(ledger__person=world["alice"], bucket="inpatient").used == Decimal("17000.00")


def test_paid_bill_is_never_changed_an_adjustment_is_recorded_once(world):
    full_run()
    a2 = Bill.objects.get(pk=world["bills"][1].pk)
    Bill.objects.filter(pk=a2.pk).update(status=BillStatus.HOSPITAL_PAID, hospital_assistance_paid=Decimal("143000.00"))
    cert = world["alice"].certifications.get()
    cert.valid_until = date(2023, 5, 31)
    cert.save()
    run = services.run_synchronously()
    assert run.adjustments_created == 1
    adjustment = PaymentAdjustment.objects.get(bill=a2)
    assert adjustment.kind == "overpayment" and adjustment.amount == Decimal("143000.00")
    assert Bill.objects.get(pk=a2.pk).hospital_assistance_paid == Decimal("143000.00")  # what was paid stays
    again = full_run()
    assert again.adjustments_created == 0
    assert PaymentAdjustment.objects.filter(bill=a2).count() == 1


def test_invariant_violation_is_reported_not_fixed(world):
    """A ledger written around the ledger lock is reported on the run and left as found."""
    full_run()
    bucket = LedgerBucket.objects.get(ledger__person=world["alice"], bucket="inpatient")
    LedgerBucket.objects.filter(pk=bucket.pk).update(used=Decimal("150000.00"))
    run = services.run_synchronously(full=True)
    codes = {(v["code"], v["person_id"], v["bucket"]) for v in run.invariant_violations}
    assert ("ledger_mismatch", world["alice"].pk, "inpatient") in codes
    assert LedgerBucket.objects.get(pk=bucket.pk).used == Decimal("150000.00")  # never silently fixed
    assert RecalcRun.objects.get(pk=run.pk).invariant_violations


def test_invariant_check_of_an_incremental_run(world):
    full_run()
    bucket = LedgerBucket.objects.get(ledger__person=world["alice"], bucket="inpatient")
    LedgerBucket.objects.filter(pk=bucket.pk).update(used=Decimal("150000.00"))
    BillFactory(person=world["alice"], status=BillStatus.SUBMITTED, admission_date=date(2023, 9, 1),
                discharge_date=date(2023, 9, 3))  # touches Alice 2023 without being counted
    run = services.run_synchronously()
    assert any(v["code"] == "ledger_mismatch" for v in run.invariant_violations)
    assert LedgerBucket.objects.get(pk=bucket.pk).used == Decimal("150000.00")


def test_dry_run_writes_nothing_but_reports(world):
    before = snapshot()
    run = services.run_synchronously(full=True, dry_run=True)
    assert run.status == RunStatus.SUCCEEDED and run.bills_changed == 3
    assert snapshot() == before
    # a dry run does not move the incremental cut-off
    assert services.run_create().full is True


def test_year_and_person_filters(world):
    BillFactory(person=world["alice"], admission_date=date(2024, 2, 1), discharge_date=date(2024, 2, 3))
    run = services.run_synchronously(full=True, year=2024)
    assert run.person_years_total == 1
    assert Bill.objects.filter(computed_at__isnull=True).count() == 3
    run = services.run_synchronously(person_id=world["bob"].pk)
    assert run.person_years_total == 1 and run.chunks_total == 1


def test_expired_coverage_is_found_per_policy_rule(world):
    """POLICY.md §2 coverage window: same_day in Beijing — a certification that ended since the
    last run is counted and its person-years recomputed (nothing written on the certification)."""
    full_run()
    last = RecalcRun.objects.filter(status=RunStatus.SUCCEEDED).latest("started_at")
    RecalcRun.objects.filter(pk=last.pk).update(started_at=timezone.now() - timedelta(days=3))
    cert = world["alice"].certifications.get()
    # ended yesterday, recorded long ago (no history row since the cut-off)
    cert.valid_until = timezone.localdate() - timedelta(days=1)
    cert.save()
    cert.history.all().update(history_date=timezone.now() - timedelta(days=30))
    run = services.run_synchronously()
    assert run.expired_certifications == 1
    assert run.person_years_total >= 1


def test_policy_picker_matches_policy_in_force(beijing):
    from monitoring.bulk import PolicyPicker
    from policies.selectors import policy_in_force

    picker = PolicyPicker.load()
    for day in (date(2019, 1, 1), date(2022, 12, 31), date(2023, 1, 1), date(2024, 6, 30), date(2026, 1, 1)):
        for region in (beijing.pk, None):
            assert picker.pick(region, day) == policy_in_force(region=region, on=day)


def test_chunks_cover_everyone_once_and_a_redelivered_chunk_is_skipped(world, monkeypatch):
    """Chunking machinery only: the bulk recompute is stubbed to record what it was asked."""
    from monitoring import bulk

    monkeypatch.setattr(services, "CHUNK_PEOPLE", 2)
    seen: list[tuple[int, int]] = []

    def stub(*, lo, hi, from_years, only_year, dry_run):
        seen.append((lo, hi))
        return bulk.ChunkOutcome(person_years=1, bills_changed=1)

    monkeypatch.setattr(bulk, "recompute_chunk", stub)
    run = services.run_create(full=True)
    indexes = services.run_plan(run=run)
    assert len(indexes) == 2
    for index in indexes:
        services.chunk_execute(run_id=run.pk, index=index)
    services.chunk_execute(run_id=run.pk, index=indexes[0])  # redelivered (acks_late): skipped
    run.refresh_from_db()
    assert run.chunks_done == 2 and run.person_years_total == 2 and len(seen) == 2
    ids = sorted([world["alice"].pk, world["bob"].pk, world["carol"].pk])
    assert seen[0][0] == ids[0] and seen[-1][1] == ids[-1]


def test_crash_mid_chunk_then_retry_gives_the_same_result(world, monkeypatch):
    """A chunk that dies after writing bills (same transaction) leaves nothing; the retry, run
    by Celery's autoretry, produces exactly what an uninterrupted run produces."""
    from django.db import OperationalError

    from monitoring import tasks

    full_run()
    CertificationFactory(person=world["bob"], category=category("minimum_living"), valid_from=date(2023, 1, 1))
    from claims import recalc  # the one recalculation core (monitoring.bulk re-exports it)

    original = recalc.fast_update
    calls = {"n": 0}

    def flaky(model, fields, rows):
        if model is PersonYearLedger and rows:  # the bills of this chunk are already written
            calls["n"] += 1
            if calls["n"] == 1:
                raise OperationalError("server closed the connection unexpectedly")
        return original(model, fields, rows)

    monkeypatch.setattr(recalc, "fast_update", flaky)
    run = services.run_create()
    indexes = services.run_plan(run=run)
    tasks.recalculate_chunk.apply(args=[run.pk, indexes[0]], throw=False)  # eager: the retry runs inside
    assert calls["n"] == 2  # failed once, retried once
    chunk = RecalcChunk.objects.get(run=run, index=indexes[0])
    assert chunk.status == RecalcChunk.Status.DONE and chunk.attempts == 1
    services.run_complete(run_id=run.pk)
    crashed = snapshot()
    clean_reference = full_run()
    assert clean_reference.bills_changed == 0
    assert snapshot()["bills"] == crashed["bills"] and snapshot()["buckets"] == crashed["buckets"]
    assert RecalcRun.objects.get(pk=run.pk).bills_changed == 1


def test_failed_chunk_fails_the_run(world, monkeypatch):
    from monitoring import bulk

    def boom(**kwargs):
        raise ValueError("bad data")

    monkeypatch.setattr(bulk, "recompute_chunk", boom)
    run = services.run_synchronously(full=True)
    assert run.status == RunStatus.FAILED
    assert "bad data" in run.errors[0]
    assert RecalcChunk.objects.get(run=run).status == RecalcChunk.Status.FAILED
    # a failed run does not move the incremental cut-off
    assert services.run_create().full is True
