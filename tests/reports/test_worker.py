"""Batch printing on a real Celery worker against Redis (the request is queued on commit, by id).

Skipped without ``CELERY_TEST_REDIS_URL`` / ``REDIS_URL`` (CI sets REDIS_URL).
"""
from __future__ import annotations

import time

import pytest

from reports.models import LetterKind, PrintJob, PrintJobStatus
from reports.services import letter_issue_from_content, print_job_request
from tests.celery_redis import REDIS, on_redis

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(not REDIS, reason="needs Redis: set CELERY_TEST_REDIS_URL or REDIS_URL"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def worker():
    import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping for the start-up check)
    from celery.contrib.testing.worker import start_worker

    from config.celery_app import app

    with on_redis(app), start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=30):
        yield app


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
