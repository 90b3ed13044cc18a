"""Batch printing on a real Celery worker against Redis (the request is queued on commit, by id).

Skipped without ``CELERY_TEST_REDIS_URL`` / ``REDIS_URL`` (CI sets REDIS_URL).
"""
from __future__ import annotations

import os
import time

import pytest

from reports.models import LetterKind, PrintJob, PrintJobStatus
from reports.services import letter_issue_from_content, print_job_request

REDIS = os.environ.get("CELERY_TEST_REDIS_URL") or os.environ.get("REDIS_URL")

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(not REDIS, reason="needs Redis: set CELERY_TEST_REDIS_URL or REDIS_URL"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def worker():
    import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping for the start-up check)
    from celery.contrib.testing.worker import start_worker
    from kombu import pools

    from config.celery_app import app

    def forget():
        if app._pool is not None:
            app._pool.force_close_all()
            app._pool = None
        app.amqp._producer_pool = None
        pools.reset()
        if hasattr(app._local, "backend"):
            del app._local.backend

    saved = {k: app.conf.get(k) for k in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=REDIS, result_backend=REDIS, task_always_eager=False)
    forget()
    try:
        with start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=30):
            yield app
    finally:
        app.conf.update(saved)
        forget()


def test_print_job_runs_on_a_real_worker(district, reviewer, caseworker, approved_content, worker):
    letters = [letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
               for _ in range(2)]
    job = print_job_request(user=caseworker, issued_on=letters[0].issued_on)  # its own transaction: queued on commit
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (PrintJobStatus.DONE, PrintJobStatus.FAILED):
            break
        time.sleep(0.2)
    assert job.status == PrintJobStatus.DONE, job.error
    assert job.letter_count == 2 and job.file.size > 0
    assert PrintJob.objects.count() == 1
