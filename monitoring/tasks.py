"""Celery tasks of the nightly recalculation: ids in, a service call, idempotent.

The chain::

    nightly_recalculation → plan_run (expiry + what was touched, chunks stored on the run)
        → chord( group(recalculate_chunk × N), finalize_run )   (warnings, invariants, close)

Every task takes JSON ids only (run id, chunk index), never an ID number. Chunks use
``acks_late`` (settings): a worker killed mid-chunk leaves the message unacknowledged, Redis
redelivers it after the ``visibility_timeout`` and the chunk runs again FROM THE START, which is
safe because a chunk is one transaction and records itself done in it (``chunk_execute``).
"""
from __future__ import annotations

import logging

from celery import chord, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, transaction

from operations.outbox import enqueue

from . import services
from .models import RecalcRun, RunTrigger

logger = logging.getLogger(__name__)

# Transient database trouble (connection lost, deadlock detected, serialization failure, lock
# timeout: all OperationalError in Django) is retried with exponential backoff.
TRANSIENT = (OperationalError, InterfaceError)
CHUNK_TIME_LIMIT = 20 * 60  # below CELERY_TASK_TIME_LIMIT, and far below the visibility_timeout
CHUNK_SOFT_TIME_LIMIT = 18 * 60
MAX_RETRIES = 5


def start_run(run: RecalcRun) -> None:
    """Queue the run's chain once the transaction that created the run commits."""
    enqueue(plan_run, run.pk)


@shared_task(name="monitoring.nightly_recalculation", acks_late=True)
def nightly_recalculation(full: bool = False) -> int:
    """Beat entry point (one beat instance only: see docs/monitoring.md)."""
    with transaction.atomic():
        run = services.run_create(full=full, trigger=RunTrigger.NIGHTLY)
        start_run(run)
    return run.pk


@shared_task(name="monitoring.plan_run", bind=True, acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True,
             retry_backoff_max=300, max_retries=MAX_RETRIES, time_limit=CHUNK_TIME_LIMIT,
             soft_time_limit=CHUNK_SOFT_TIME_LIMIT)
def plan_run(self, run_id: int) -> int:
    """Expiry and the touched person-years → chunks; then the chord of chunks and the finalizer.

    Idempotent: chunks are stored with ``ignore_conflicts``; a redelivered plan re-sends the
    chunks, and chunks already done skip themselves.
    """
    run = RecalcRun.objects.get(pk=run_id)
    if run.status != "running":
        return 0
    try:
        indexes = services.run_plan(run=run)
    except TRANSIENT:
        raise
    except Exception as exc:
        logger.exception("recalc run %s planning failed", run_id)
        services.run_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        return 0
    if not indexes:
        finalize_run.delay(run_id)
    else:
        chord(recalculate_chunk.s(run_id, index) for index in indexes)(finalize_run.si(run_id))
    return len(indexes)


@shared_task(name="monitoring.recalculate_chunk", bind=True, acks_late=True, autoretry_for=TRANSIENT,
             retry_backoff=True, retry_backoff_max=300, retry_jitter=True, max_retries=MAX_RETRIES,
             time_limit=CHUNK_TIME_LIMIT, soft_time_limit=CHUNK_SOFT_TIME_LIMIT)
def recalculate_chunk(self, run_id: int, index: int) -> dict:
    """One chunk. Transient DB errors retry (autoretry with backoff); anything else, or running
    out of retries, is recorded on the chunk and the run, and the chord still completes, so the
    finalizer closes the run as failed instead of leaving it "running" forever."""
    try:
        outcome = services.chunk_execute(run_id=run_id, index=index)
    except TRANSIENT as exc:
        if self.request.retries >= self.max_retries:
            services.chunk_fail(run_id=run_id, index=index, error=f"{type(exc).__name__}: {exc}")
            return {"index": index, "failed": True}
        raise
    except SoftTimeLimitExceeded:
        services.chunk_fail(run_id=run_id, index=index, error="soft time limit exceeded")
        return {"index": index, "failed": True}
    except Exception as exc:  # noqa: BLE001 - recorded, not swallowed: the run fails
        logger.exception("recalc run %s chunk %s failed", run_id, index)
        services.chunk_fail(run_id=run_id, index=index, error=f"{type(exc).__name__}: {exc}")
        return {"index": index, "failed": True}
    if outcome is None:
        return {"index": index, "skipped": True}
    return {"index": index, "person_years": outcome.person_years, "bills_changed": outcome.bills_changed}


@shared_task(name="monitoring.finalize_run", bind=True, acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True,
             max_retries=MAX_RETRIES, time_limit=CHUNK_TIME_LIMIT, soft_time_limit=CHUNK_SOFT_TIME_LIMIT)
def finalize_run(self, run_id: int) -> str:
    """Warnings, then invariants, then close the run (succeeded / failed)."""
    run = RecalcRun.objects.get(pk=run_id)
    if run.status != "running":
        return run.status
    try:
        run = services.run_complete(run_id=run_id)
    except TRANSIENT:
        raise
    except Exception as exc:
        logger.exception("recalc run %s finalizer failed", run_id)
        services.run_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    return run.status
