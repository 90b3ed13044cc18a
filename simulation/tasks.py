"""Celery tasks of the what-if simulation, on their own queue ``simulation`` (a worker started
with ``-Q simulation``), so a region-wide replay never waits behind, or delays, the office's work.

    plan_simulation → chord( group(simulate_chunk × N), finalize_simulation )

Tasks take ids only; a chunk is one transaction and records itself done in it (idempotent).
"""
from __future__ import annotations

import logging

from celery import chord, shared_task

from operations.outbox import enqueue

from . import services
from .models import SimulationRun

logger = logging.getLogger(__name__)
QUEUE = "simulation"


def start_run(run: SimulationRun) -> None:
    enqueue(plan_simulation, run.pk, queue=QUEUE)


@shared_task(name="simulation.plan", acks_late=True, queue=QUEUE)
def plan_simulation(run_id: int) -> int:
    run = SimulationRun.objects.get(pk=run_id)
    if run.status != SimulationRun.Status.QUEUED:
        return 0
    try:
        indexes = services.run_plan(run=run)
    except Exception as exc:
        logger.exception("simulation %s planning failed", run_id)
        services.run_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        return 0
    if not indexes:
        finalize_simulation.apply_async((run_id,), queue=QUEUE)
    else:
        chord(simulate_chunk.si(run_id, i).set(queue=QUEUE) for i in indexes)(finalize_simulation.si(run_id).set(queue=QUEUE))
    return len(indexes)


@shared_task(name="simulation.chunk", acks_late=True, queue=QUEUE)
def simulate_chunk(run_id: int, index: int) -> dict:
    try:
        return {"index": index, "person_years": services.chunk_execute(run_id=run_id, index=index)}
    except Exception as exc:  # noqa: BLE001 - recorded on the run: the finalizer sees the chunk not done
        logger.exception("simulation %s chunk %s failed", run_id, index)
        services.run_fail(run_id=run_id, error=f"chunk {index}: {type(exc).__name__}: {exc}")
        return {"index": index, "failed": True}


@shared_task(name="simulation.finalize", acks_late=True, queue=QUEUE)
def finalize_simulation(run_id: int) -> str:
    run = SimulationRun.objects.get(pk=run_id)
    if run.status == SimulationRun.Status.FAILED:
        return run.status
    try:
        return services.run_complete(run_id=run_id).status
    except Exception as exc:
        logger.exception("simulation %s finalizer failed", run_id)
        return services.run_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}").status
