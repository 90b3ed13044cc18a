"""The transactional outbox (operations.outbox): work is recorded with the decision, sent when the
broker answers, and a broker that is down costs the user neither a 500 nor a long wait."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery import shared_task
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from claims.models import ClaimStatus
from operations import outbox
from operations.models import OutboxTask
from operations.signals import _outbox_finished, _outbox_started
from tests.celery_redis import on_redis
from tests.claims.conftest import institution, make_claim, person  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
DOWN = "redis://127.0.0.1:6399/0"  # nothing listens there (this lane's private port range)
CALLS: list[int] = []


@shared_task(name="tests.operations.record")
def record(value: int) -> int:
    CALLS.append(value)
    return value


@pytest.fixture
def broker_down():
    from config.celery_app import app

    with on_redis(app, DOWN):
        outbox.broker_run_id()  # warm: the redis client's import is not the broker's wait
        yield app


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()


def test_enqueue_is_written_in_the_callers_transaction():
    """Rolled back with the decision: no task without its decision, no decision without its task."""
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue(record, 1)
        assert OutboxTask.objects.count() == 1
        raise RuntimeError
    assert not OutboxTask.objects.exists() and CALLS == []


def test_without_a_broker_the_task_runs_on_commit_and_is_marked_done(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        row = outbox.enqueue(record, 7)
        assert CALLS == []  # not before the commit
    row.refresh_from_db()
    assert CALLS == [7] and row.state == OutboxTask.State.DONE and row.attempts == 1 and row.finished_at


def test_broker_down_leaves_the_work_pending_at_once(broker_down, django_capture_on_commit_callbacks):
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        row = outbox.enqueue(record, 1)
    elapsed = time.monotonic() - started
    row.refresh_from_db()
    assert elapsed < 2.0, f"waited {elapsed:.1f}s for a broker that is down"
    assert row.state == OutboxTask.State.PENDING and row.attempts == 1 and "6399" in row.last_error
    assert CALLS == []


@pytest.mark.django_db(transaction=True)  # real commits: the notice is decided inside the request
def test_an_approval_with_the_broker_down_answers_at_once_and_says_why(
        client, make_claim, reviewer, broker_down):  # noqa: F811
    """Issue 14: 500 after 19 s before; now a redirect, the decision kept, the letter queued."""
    claim = make_claim()
    client.force_login(reviewer)
    client.get(reverse("claims:detail", args=[claim.pk]))  # warm: URLconf and templates loaded
    started = time.monotonic()
    response = client.post(reverse("claims:action", args=[claim.pk, "decide"]), {"action": "approve", "note": "ok", "confirmed": "1"},
                           follow=True)
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and elapsed < 3.0, elapsed
    assert "已记录。任务服务暂时不可用：决定书、导入或打印将在任务服务恢复后自动完成" in response.content.decode()
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    row = OutboxTask.objects.get()
    assert row.task_name == "claims.tasks.issue_decision_letter" and row.state == OutboxTask.State.PENDING
    assert row.args[1] == claim.pk


def test_the_sweeper_sends_what_was_left_pending():
    rows = [OutboxTask.objects.create(task_name=record.name, args=[n]) for n in (1, 2, 3)]
    assert outbox.sweep() == {"requeued": 0, "pending": 3, "sent": 3}
    assert CALLS == [1, 2, 3]
    assert {r.state for r in OutboxTask.objects.filter(pk__in=[r.pk for r in rows])} == {OutboxTask.State.DONE}
    assert outbox.sweep() == {"requeued": 0, "pending": 0, "sent": 0}  # done once, never again
    assert CALLS == [1, 2, 3]


def test_the_sweeper_resends_what_is_stuck(settings):
    old = timezone.now() - timedelta(days=1)
    stale_sending = OutboxTask.objects.create(task_name=record.name, args=[1], state=OutboxTask.State.SENDING)
    never_started = OutboxTask.objects.create(task_name=record.name, args=[2], state=OutboxTask.State.SENT)
    recent = OutboxTask.objects.create(task_name=record.name, args=[3], state=OutboxTask.State.SENT)
    running = OutboxTask.objects.create(task_name=record.name, args=[4], state=OutboxTask.State.STARTED)
    OutboxTask.objects.filter(pk__in=[stale_sending.pk, never_started.pk]).update(sent_at=old)
    OutboxTask.objects.filter(pk=recent.pk).update(sent_at=timezone.now())
    OutboxTask.objects.filter(pk=running.pk).update(sent_at=old, started_at=timezone.now())
    result = outbox.sweep()
    assert result["requeued"] == 2 and CALLS == [1, 2]
    recent.refresh_from_db()
    running.refresh_from_db()
    assert recent.state == OutboxTask.State.SENT and running.state == OutboxTask.State.STARTED


def test_the_worker_marks_rows_started_then_done_or_failed():
    ok = OutboxTask.objects.create(task_name=record.name, state=OutboxTask.State.SENT)
    bad = OutboxTask.objects.create(task_name=record.name, state=OutboxTask.State.SENT)
    _outbox_started(task_id=ok.task_id)
    ok.refresh_from_db()
    assert ok.state == OutboxTask.State.STARTED and ok.started_at
    _outbox_finished(task_id=ok.task_id, state="SUCCESS", retval=None)
    _outbox_finished(task_id=bad.task_id, state="FAILURE", retval=ValueError("broken file"))
    ok.refresh_from_db()
    bad.refresh_from_db()
    assert ok.state == OutboxTask.State.DONE
    assert bad.state == OutboxTask.State.FAILED and "broken file" in bad.last_error
    _outbox_finished(task_id=ok.task_id, state="FAILURE", retval=None)  # a late duplicate never undoes done
    ok.refresh_from_db()
    assert ok.state == OutboxTask.State.DONE


def test_every_place_that_queues_work_goes_through_the_outbox():
    """grep of the project: no ``.delay(`` / ``apply_async`` outside the outbox and the workers'
    own chains (a task queuing its follow-up runs on a worker, where the broker is needed anyway)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    allowed = {"operations/outbox.py", "monitoring/tasks.py", "simulation/tasks.py"}
    offenders = []
    for path in root.glob("*/**/*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith((".venv/", "tests/", "benchmarks/")) or rel in allowed:
            continue
        text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                          if not line.lstrip().startswith("#"))
        if re.search(r"\.(delay|apply_async)\(", text):
            offenders.append(rel)
    assert offenders == []
    tasks_text = (root / "monitoring/tasks.py").read_text(encoding="utf-8")
    assert "on_commit(lambda: plan_run.delay" not in tasks_text  # the web-started run is outboxed
    assert "on_commit(" not in (root / "simulation/tasks.py").read_text(encoding="utf-8")
