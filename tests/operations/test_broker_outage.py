"""The broker goes away in the middle of approvals, imports and printing, and comes back empty.

A private Redis (its own port, nothing on disk, like production's) is started for this test:

1. with Redis up but no worker yet, a claim is approved, a settlement file uploaded and a print
   job requested: their messages sit in Redis (outbox rows ``sent``);
2. Redis is stopped: those messages are lost. Another claim is approved through the web: the
   answer comes at once (a redirect and the notice, no 500), the decision is committed and the
   letter's task waits in the outbox (``pending``);
3. Redis is restarted (a new instance: new ``run_id``) and a worker starts. One sweep (what beat
   does every minute) re-sends the lost messages and sends the pending one;
4. every letter, the import and the print job are done **exactly once**: one letter per claim,
   one print file, the import's bills created once; a second sweep sends nothing.

Why it fails on the old code: ``.delay`` raised inside ``on_commit`` (500 after seconds of
retries) and nothing ever re-sent a message lost with Redis, so the letter of step 1 never came.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from claims.models import Bill, ClaimStatus, SettlementImport
from operations import outbox
from operations.models import OutboxTask
from reports.models import Letter, LetterKind, PrintJob, PrintJobStatus
from reports.services import letter_issue_from_content, print_job_request
from tests.celery_redis import on_redis
from tests.claims.conftest import institution, make_claim, person  # noqa: F401 - fixtures
from tests.claims.test_imports import csv_bytes, good_row
from tests.conftest import requires_postgres
from tests.reports.conftest import approved_content  # noqa: F401 - fixture

PORT = 6393  # this lane's private range (6390-6399)
URL = f"redis://127.0.0.1:{PORT}/0"
WAIT = 90

pytestmark = [
    requires_postgres,  # a worker thread and the test write concurrently: SQLite locks whole tables
    pytest.mark.postgres,
    pytest.mark.celery_worker,
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server to start a private Redis"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # the worker sees committed rows
]


class PrivateRedis:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"private redis-server did not start on port {PORT}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(redis_server):
    from config.celery_app import app

    with on_redis(app, URL):
        yield app


def wait_until(check, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {WAIT}s: {what}; outbox: {list(OutboxTask.objects.values_list('task_name', 'state'))}")


def test_nothing_is_lost_when_the_broker_goes_away(client, app, redis_server, settings, tmp_path, make_claim,  # noqa: F811
                                                   reviewer, caseworker, district, person, institution,  # noqa: F811
                                                   approved_content):  # noqa: F811
    import celery.contrib.testing.tasks  # noqa: F401 - celery.ping for start_worker's check
    from celery.contrib.testing.worker import start_worker

    settings.MEDIA_ROOT = tmp_path / "media"
    first, second = make_claim(), make_claim()
    printed = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content,
                                        by=reviewer)
    client.force_login(reviewer)
    client.get(reverse("claims:detail", args=[first.pk]))  # warm start-up imports: not the broker's time

    # 1. Broker up, no worker: the messages wait in Redis.
    assert client.post(reverse("claims:action", args=[first.pk, "decide"]), {"action": "approve", "confirmed": "1"}).status_code == 302
    client.force_login(caseworker)
    upload = SimpleUploadedFile("s.csv", csv_bytes(good_row(person, institution, no="OUT1")))
    assert client.post(reverse("claims:imports"), {"file": upload}).status_code == 302
    job = print_job_request(user=caseworker, issued_on=printed.issued_on)
    assert set(OutboxTask.objects.values_list("state", flat=True)) == {OutboxTask.State.SENT}

    # 2. Broker gone (and its messages with it): the next decision still answers at once.
    redis_server.stop()
    client.force_login(reviewer)
    started = time.monotonic()
    response = client.post(reverse("claims:action", args=[second.pk, "decide"]), {"action": "approve", "confirmed": "1"}, follow=True)
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and elapsed < 3.0, f"{response.status_code} after {elapsed:.1f}s"
    assert "任务服务恢复后自动完成" in response.content.decode()
    second.refresh_from_db()
    assert second.status == ClaimStatus.APPROVED
    assert OutboxTask.objects.filter(state=OutboxTask.State.PENDING).count() == 1

    # 3. A new, empty Redis and a worker; the sweeper re-sends what was lost and sends what waited.
    redis_server.start()
    with start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=30):
        result = outbox.sweep()
        assert result == {"requeued": 3, "pending": 4, "sent": 4}, result
        wait_until(lambda: not OutboxTask.objects.exclude(state=OutboxTask.State.DONE).exists(), "every task done")
        import_job = SettlementImport.objects.get()
        assert import_job.status == SettlementImport.Status.PREVIEWED
        client.force_login(caseworker)  # confirm the previewed import: queued and applied normally
        client.post(reverse("claims:import", args=[import_job.pk]))
        wait_until(lambda: SettlementImport.objects.get().status == SettlementImport.Status.DONE, "import applied")
        assert outbox.sweep() == {"requeued": 0, "pending": 0, "sent": 0}

    # 4. Exactly once.
    for claim in (first, second):
        assert Letter.objects.filter(kind=LetterKind.CLAIM_APPROVED, claim=claim).count() == 1, claim
    job = PrintJob.objects.get(pk=job.pk)
    assert job.status == PrintJobStatus.DONE and job.letter_count >= 1 and job.file.size > 0
    assert Bill.objects.filter(settlement_no="OUT1").count() == 1
    assert SettlementImport.objects.get().created == 1
    assert OutboxTask.objects.count() == 5 and set(OutboxTask.objects.values_list("state", flat=True)) == {"done"}
