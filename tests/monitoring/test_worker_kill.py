"""A worker SIGKILLed in the middle of a chunk: the run still completes, with the same database.

What this proves (issue 8: "survives a worker killed mid-chunk"):

1. the reference: the run, undisturbed and synchronous, on a small world (one paid bill, so
   the run also creates a payment adjustment); then the computed data is put back as it was;
2. the same run on real worker processes (``tests/monitoring/slow_worker.py``, connected to this
   test's PostgreSQL database and to Redis). The first worker recomputes its first chunk (the
   writes happen, inside the chunk's transaction) and hangs before committing; it is SIGKILLed:
   no warm shutdown, no ack, no rejection. At that moment the committed database is still the
   untouched one, the chunk is pending and the run is running;
3. a second worker starts. Redis hands the killed chunk's message out again after the
   ``visibility_timeout`` (a few seconds here) and the run completes: succeeded, every chunk done
   once, the same counters as the reference, and ``snapshot()`` equal to the reference's;
4. a further full run changes nothing.

Why it would fail:

- without ``acks_late`` on ``recalculate_chunk`` the message is acknowledged when the task
  starts; the kill loses it, the chord of chunks never completes and the run stays "running"
  (the bounded wait below fails). Checked by hand with ``acks_late = False`` in the worker
  process. This needs the prefork pool (as in production): with the solo pool Celery only sends
  an early ack once the task has returned, so the test could not tell (see ``slow_worker.py``);
- if a chunk were not one transaction, the killed attempt's writes would stay committed
  (``snapshot()`` at the kill differs from the untouched one) and the redelivered attempt would
  find less to change (``bills_changed`` below the reference's); a chunk counted twice shows in
  ``chunks_done`` and ``attempts``, a payment adjustment written twice in ``snapshot()``.

PostgreSQL and Redis only: the worker is another process, it must see what this test commits.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, transaction

from claims.models import Bill, BillStatus, LedgerBucket, PaymentAdjustment, PersonYearLedger
from monitoring import services, tasks
from monitoring.models import EarlyWarning, RecalcChunk, RecalcRun, RunStatus
from tests.celery_redis import REDIS, on_redis
from tests.factories import BillFactory

from .conftest import snapshot

VISIBILITY_TIMEOUT = 3  # seconds before Redis hands an unacknowledged message out again
WAIT = 60  # every wait is bounded: a broken worker fails the test, it never hangs CI

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.slow,
    pytest.mark.skipif(not REDIS, reason="needs Redis: set CELERY_TEST_REDIS_URL or REDIS_URL"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # the worker sees committed rows
]


@pytest.fixture
def database_url(django_db_setup):  # after setup: NAME is the test database's
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker process must reach this test's database (SQLite here)")
    s = connection.settings_dict
    user = quote(s["USER"] or "", safe="")
    if s["PASSWORD"]:
        user += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{user}@{s['HOST'] or ''}:{s['PORT'] or 5432}/{quote(s['NAME'], safe='')}"


@pytest.fixture
def queue():
    """This test's own queue on Redis (removed afterwards, with any unacked copy of its messages)."""
    import redis

    from config.celery_app import app

    name = f"test-worker-kill-{uuid.uuid4().hex[:8]}"
    try:
        with on_redis(app):
            yield name
    finally:
        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(match=f"*{name}*"):
            client.delete(key)
        for tag, raw in client.hgetall("unacked").items():
            if json.loads(raw)[2] == name:  # [message, exchange, routing key]
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)


class Worker:
    """``python -m tests.monitoring.slow_worker`` in a process group of its own."""

    def __init__(self, name: str, tmp: Path, database_url: str, queue: str, hang: Path | None = None):
        self.log = tmp / f"{name}.log"
        self.trace = tmp / f"{name}.trace"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "KILL_TEST_QUEUE": queue,
            "KILL_TEST_VISIBILITY": str(VISIBILITY_TIMEOUT),
            "KILL_TEST_TRACE": str(self.trace),
        }
        env.pop("KILL_TEST_HANG_MARKER", None)
        if hang is not None:
            env["KILL_TEST_HANG_MARKER"] = str(hang)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.monitoring.slow_worker"], cwd=settings.BASE_DIR, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def tasks(self) -> list[dict]:
        if not self.trace.exists():
            return []
        return [json.loads(line) for line in self.trace.read_text(encoding="utf-8").splitlines()]

    def tail(self) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return f"--- {self.log.name} ---\n" + "\n".join(text.splitlines()[-40:])

    def check_alive(self) -> None:
        assert self.process.poll() is None, f"worker exited with {self.process.returncode}\n{self.tail()}"


def _bill_rows() -> list[dict]:
    return list(Bill.objects.order_by("pk").values())


def _put_back(bill_rows: list[dict]) -> None:
    """Undo a run: the bills' columns as they were, no ledgers, adjustments, warnings or runs."""
    for row in bill_rows:
        row = dict(row)
        Bill.objects.filter(pk=row.pop("id")).update(**row)
    PaymentAdjustment.objects.all().delete()
    LedgerBucket.objects.all().delete()
    PersonYearLedger.objects.all().delete()
    EarlyWarning.objects.all().delete()
    RecalcRun.objects.all().delete()


def test_a_worker_killed_mid_chunk_leaves_the_database_an_undisturbed_run_leaves(
        world, database_url, queue, tmp_path, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_PEOPLE", 1)  # the reference cut like the workers' run
    BillFactory(person=world["alice"], admission_date=date(2023, 9, 1), discharge_date=date(2023, 9, 3),
                status=BillStatus.HOSPITAL_PAID, hospital_assistance_paid=Decimal("1.00"))
    untouched_bills, untouched = _bill_rows(), snapshot()

    reference_run = services.run_synchronously(full=True)
    assert reference_run.status == RunStatus.SUCCEEDED, reference_run.errors
    reference = snapshot()
    assert reference_run.chunks_total == 3 and reference_run.bills_changed == 4
    assert reference["adjustments"] and reference["warnings"] and reference != untouched
    _put_back(untouched_bills)
    assert _bill_rows() == untouched_bills and snapshot() == untouched

    with transaction.atomic():
        run = services.run_create(full=True)
        transaction.on_commit(lambda: tasks.plan_run.apply_async((run.pk,), queue=queue))
    marker = tmp_path / "hung.json"
    workers = [Worker("first", tmp_path, database_url, queue, hang=marker)]
    try:
        deadline = time.monotonic() + WAIT
        while not marker.exists():
            workers[0].check_alive()
            assert time.monotonic() < deadline, f"no chunk started in {WAIT}s\n{workers[0].tail()}"
            time.sleep(0.1)
        hung = json.loads(marker.read_text())
        assert hung["bills_changed"] > 0  # the chunk has written, in its open transaction

        workers[0].kill()
        killed = RecalcChunk.objects.get(run=run, lo=hung["lo"], hi=hung["hi"])
        assert workers[0].tasks()[-1] == {"task": "monitoring.recalculate_chunk", "args": [run.pk, killed.index],
                                          "redelivered": False}
        assert snapshot() == untouched  # nothing of the killed attempt was committed
        assert killed.status == RecalcChunk.Status.PENDING and killed.attempts == 0
        run.refresh_from_db()
        assert run.status == RunStatus.RUNNING and run.chunks_total == 3 and run.chunks_done == 0

        workers.append(Worker("second", tmp_path, database_url, queue))
        deadline = time.monotonic() + WAIT
        while (run := RecalcRun.objects.get(pk=run.pk)).status == RunStatus.RUNNING:
            workers[1].check_alive()
            assert time.monotonic() < deadline, f"run still running after {WAIT}s\n{workers[1].tail()}"
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.kill()

    assert run.status == RunStatus.SUCCEEDED, run.errors
    counters = ("chunks_total", "chunks_done", "person_years_total", "bills_changed", "adjustments_created",
                "warnings_created")
    assert {c: getattr(run, c) for c in counters} == {c: getattr(reference_run, c) for c in counters}
    assert list(run.chunks.values_list("status", "attempts")) == [(RecalcChunk.Status.DONE, 1)] * 3
    chunks_run = [t for t in workers[1].tasks() if t["task"] == "monitoring.recalculate_chunk"]
    assert sorted(t["args"][1] for t in chunks_run) == [0, 1, 2]  # each chunk once on the second worker
    assert {"task": "monitoring.recalculate_chunk", "args": [run.pk, killed.index], "redelivered": True} in chunks_run

    assert snapshot() == reference

    again = services.run_synchronously(full=True)
    assert again.status == RunStatus.SUCCEEDED and again.bills_changed == 0 and again.adjustments_created == 0
    assert snapshot() == reference
