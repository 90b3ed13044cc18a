"""A real Celery worker against Redis runs the nightly chain: plan → chord(chunks) → finalizer.

Skipped without ``CELERY_TEST_REDIS_URL`` / ``REDIS_URL`` (CI sets REDIS_URL). Settings derive
``CELERY_TASK_ALWAYS_EAGER`` from REDIS_URL at import time, so the fixture overrides the app's
configuration directly.
"""
from __future__ import annotations

import time
from datetime import date

import pytest
from django.db import transaction

from monitoring import services, tasks
from monitoring.models import RecalcRun, RunStatus
from tests.celery_redis import REDIS, on_redis
from tests.factories import CertificationFactory, category

from .conftest import snapshot

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(not REDIS, reason="needs Redis: set CELERY_TEST_REDIS_URL or REDIS_URL"),
    # serialized_rollback: the flush after each test would drop the categories and policies the
    # data migrations installed; this restores them for the next test.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def worker(monkeypatch):
    import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping for the start-up check)
    from celery.contrib.testing.worker import start_worker

    from config.celery_app import app

    monkeypatch.setattr(services, "CHUNK_PEOPLE", 1)  # one chunk per person: a real group of several
    with on_redis(app), start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=30):
        yield app


def wait_for(run_id: int, timeout: float = 60.0) -> RecalcRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = RecalcRun.objects.get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still running after {timeout}s")


def test_nightly_chain_on_a_real_worker(world, worker):
    with transaction.atomic():
        run = services.run_create(full=True)
        tasks.start_run(run)  # queued on commit
    run = wait_for(run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.chunks_total == 3 and run.chunks_done == 3
    assert run.bills_changed == 3 and run.warnings_created == 1
    first = snapshot()

    # incremental, through the beat entry point: only the newly certified person is recomputed
    CertificationFactory(person=world["bob"], category=category("minimum_living"), valid_from=date(2023, 1, 1))
    result = tasks.nightly_recalculation.delay()
    run = wait_for(result.get(timeout=30))
    assert run.status == RunStatus.SUCCEEDED and run.person_years_total == 1 and run.bills_changed == 1
    assert snapshot()["bills"] != first["bills"]


def test_running_the_same_chunks_twice_changes_nothing(world, worker):
    with transaction.atomic():
        run = services.run_create(full=True)
        tasks.start_run(run)
    run = wait_for(run.pk)
    after = snapshot()
    # a redelivered chunk (acks_late after a lost ack) is skipped: same database, same counters
    for index in range(run.chunks_total):
        tasks.recalculate_chunk.delay(run.pk, index).get(timeout=30)
    assert snapshot() == after
    assert RecalcRun.objects.get(pk=run.pk).bills_changed == run.bills_changed
