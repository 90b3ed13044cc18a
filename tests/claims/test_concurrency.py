"""Caps hold under concurrency: two approvals for one person at the same moment (real threads,
real PostgreSQL transactions). SQLite serialises writers, so this proves nothing there: skipped."""
from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from claims import services
from claims.models import Claim, ClaimStatus, LedgerBucket
from tests.conftest import requires_postgres
from tests.factories import BillFactory

from .conftest import bill_data


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_approvals_never_exceed_the_annual_cap(person, institution, make_claim, reviewer, monkeypatch):
    # A one-stop bill already on the ledger: 17,000 of the BJ-3 inpatient cap of 160,000 used,
    # and the ledger row exists (so row creation cannot serialise the two approvals by accident).
    BillFactory(person=person, institution=institution, admission_date=date(2023, 1, 20), discharge_date=date(2023, 2, 1))
    services.recompute_person_year(person_id=person.pk, year=2023)
    # Two claims, each alone worth 127,500 (85 % of 150,000): together they would overshoot.
    claims = [make_claim(bills=[bill_data(institution, burden="150000.00", discharge=date(2023, 3, d))]) for d in (10, 11)]

    # Hold every ledger lock a little, so both transactions are inside approval at once: with
    # the row lock the second waits for the first; without it both would read the same room.
    real_lock = services.lock_ledger

    def slow_lock(**kwargs):
        ledger = real_lock(**kwargs)
        time.sleep(0.3)
        return ledger

    monkeypatch.setattr(services, "lock_ledger", slow_lock)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def approve(claim_id: int) -> None:
        try:
            barrier.wait()
            services.claim_approve(claim=Claim.objects.get(pk=claim_id), reviewer=reviewer)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(c.pk,)) for c in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors

    approved = Claim.objects.filter(pk__in=[c.pk for c in claims])
    assert set(approved.values_list("status", flat=True)) == {ClaimStatus.APPROVED}
    total_claims = sum(c.approved_amount for c in approved)
    bucket = LedgerBucket.objects.get(ledger__person=person, ledger__year=2023, bucket="inpatient")
    assert Decimal("17000.00") + total_claims <= Decimal("160000.00")
    assert bucket.used == Decimal("17000.00") + total_claims == Decimal("160000.00")
