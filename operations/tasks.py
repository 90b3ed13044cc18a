"""Celery beat entries of the operations app."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="operations.outbox_sweep", acks_late=True, ignore_result=True, time_limit=5 * 60)
def outbox_sweep() -> dict:
    """Every minute (CELERY_BEAT_SCHEDULE): send pending outbox rows, re-send stuck ones."""
    from .outbox import sweep

    return sweep()
