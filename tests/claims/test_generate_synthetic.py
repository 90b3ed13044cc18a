"""``manage.py generate_synthetic``: the benchmark data set is valid data the product accepts.

The generator writes rows with COPY/INSERT, bypassing model defaults, so a new NOT NULL column
without a value here breaks every benchmark; and its bills must be what the nightly run and the
claims services compute the same way.
"""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from claims.models import Bill
from monitoring import services as monitoring_services
from monitoring.models import RunStatus

pytestmark = pytest.mark.django_db


def test_generated_bills_are_complete_and_the_nightly_run_agrees_with_the_services():
    out = io.StringIO()
    call_command("generate_synthetic", people=40, claims=160, seed=7, compute=True, stdout=out)
    bills = Bill.objects.all()
    assert bills.count() == 160
    assert not bills.filter(updated_at__isnull=True).exists()
    assert not bills.filter(computed_at__isnull=True).exclude(status="rejected").exists()
    assert bills.exclude(status="rejected").exclude(computation_digest="").count() == bills.exclude(status="rejected").count()
    # --compute used claims.services; a full nightly run over the same data finds nothing to change
    run = monitoring_services.run_synchronously(full=True)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.bills_changed == 0 and run.adjustments_created == 0
    assert run.invariant_violations == []
