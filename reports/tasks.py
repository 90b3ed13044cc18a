"""Celery tasks of the reports app: they take ids, never personal data, and call services."""
from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, time_limit=30 * 60, soft_time_limit=25 * 60)
def print_letters(job_id: int) -> int:
    """Merge the letters of print job ``job_id`` into one PDF (idempotent: a redelivery rewrites it)."""
    from .services import print_job_run

    return print_job_run(job_id=job_id).letter_count
