"""The one way work is queued: :func:`enqueue` (a transactional outbox).

``enqueue(task, *args)`` writes an :class:`OutboxTask` row **in the caller's transaction**, so the
decision and the work it implies are committed together or not at all. After the commit, one
quick attempt sends it to the broker (short timeouts, no retries, no result-backend round trip);
if the broker is down the row simply stays ``pending`` and the user is told the work is recorded
(:mod:`operations.middleware`). The sweeper (:func:`sweep`, every minute from Celery beat, or
``manage.py outbox_sweep``) sends what is pending and re-sends what is stuck:

- ``sending`` for more than ``OUTBOX_SENDING_STALE`` seconds (a process died mid-send);
- ``sent`` or ``started`` to a Redis instance that has since restarted (its ``run_id`` differs:
  this Redis keeps nothing on disk, so the message is gone);
- ``sent`` but not started after ``OUTBOX_RESEND_AFTER`` seconds, ``started`` but not finished
  after ``OUTBOX_RESEND_STARTED_AFTER`` (longer than any task's time limit).

The worker marks each row started/done/failed through Celery signals (:mod:`operations.signals`),
keyed by the Celery task id the row carries. Every queued task is idempotent (a letter per claim
and kind, an import job in the wrong state left alone, a print job rewritten), so a re-send after
a lost message does the work once.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import OutboxTask

logger = logging.getLogger(__name__)
State = OutboxTask.State
_request_state = threading.local()


def _sending_options() -> dict[str, Any]:
    # One attempt, a short connect timeout: a web request never waits for a broker that is down.
    return {"max_retries": 0, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1,
            "socket_connect_timeout": settings.OUTBOX_CONNECT_TIMEOUT,
            "socket_timeout": settings.OUTBOX_CONNECT_TIMEOUT * 2}


def _connection():
    return current_app.connection_for_write(connect_timeout=settings.OUTBOX_CONNECT_TIMEOUT,
                                            transport_options=_sending_options())


def enqueue(task, *args: Any, queue: str | None = None, **kwargs: Any) -> OutboxTask:
    """Record ``task(*args, **kwargs)`` in the current transaction; send it once that commits
    (to ``queue`` when given, else the task's own queue)."""
    row = OutboxTask.objects.create(task_name=task.name, args=list(args), kwargs=kwargs,
                                    options={"queue": queue} if queue else {})
    pk = row.pk
    transaction.on_commit(lambda: send(pk))
    return row


def _eager() -> bool:
    return bool(current_app.conf.task_always_eager)


def broker_run_id(connection=None) -> str:
    """The broker instance's identity (Redis ``INFO server`` run_id); '' when not Redis."""
    try:
        if connection is None:
            with _connection() as conn:
                return broker_run_id(conn)
        client = connection.default_channel.client
        return str(client.info("server").get("run_id", ""))
    except Exception:  # noqa: BLE001 - unknown identity: the age rule still applies
        return ""


def send(pk: int) -> bool:
    """Try once to hand row ``pk`` to the broker. True when sent (or already done)."""
    return send_rows([pk]) == 1


def send_rows(pks: Iterable[int]) -> int:
    """Send the given pending rows over one connection; stop at the first broker error."""
    pks = list(pks)
    if not pks:
        return 0
    if _eager():
        return sum(_send_eagerly(pk) for pk in pks)
    sent = 0
    try:
        with _connection() as conn:
            run = broker_run_id(conn)
            for pk in pks:
                sent += _publish(pk, conn, run)
    except Exception as exc:  # noqa: BLE001 - any broker trouble: the rows wait for the sweeper
        note_unsent(error=exc)
        logger.warning("outbox: broker unreachable, %s task(s) left pending: %s", len(pks) - sent, exc)
    return sent


def _claim(pk: int) -> OutboxTask | None:
    claimed = OutboxTask.objects.filter(pk=pk, state=State.PENDING).update(
        state=State.SENDING, attempts=F("attempts") + 1, sent_at=timezone.now())
    return OutboxTask.objects.get(pk=pk) if claimed else None


def _publish(pk: int, conn, run: str) -> int:
    row = _claim(pk)
    if row is None:
        return 0
    try:
        current_app.tasks[row.task_name].apply_async(
            args=row.args, kwargs=row.kwargs, task_id=row.task_id, connection=conn, retry=False,
            ignore_result=True, **row.options)  # no result-backend subscription: nothing waits for the result
    except Exception as exc:
        OutboxTask.objects.filter(pk=pk, state=State.SENDING).update(state=State.PENDING, last_error=str(exc)[:2000])
        raise
    OutboxTask.objects.filter(pk=pk, state=State.SENDING).update(state=State.SENT, broker_run=run, last_error="")
    return 1


def _send_eagerly(pk: int) -> int:
    """No broker (development, tests): run the task in-process now, as ``.delay`` did."""
    row = _claim(pk)
    if row is None:
        return 0
    current_app.tasks[row.task_name].apply_async(args=row.args, kwargs=row.kwargs, task_id=row.task_id, **row.options)
    OutboxTask.objects.filter(pk=pk, state__in=[State.SENDING, State.STARTED]).update(
        state=State.DONE, finished_at=timezone.now())
    return 1


def sweep(*, limit: int = 500) -> dict[str, int]:
    """Send what is pending, re-send what is stuck. Returns counts (for logs and the command)."""
    now = timezone.now()
    requeued = OutboxTask.objects.filter(
        state=State.SENDING, sent_at__lt=now - timedelta(seconds=settings.OUTBOX_SENDING_STALE)
    ).update(state=State.PENDING)
    lost = Q(state=State.SENT, sent_at__lt=now - timedelta(seconds=settings.OUTBOX_RESEND_AFTER)) | Q(
        state=State.STARTED, started_at__lt=now - timedelta(seconds=settings.OUTBOX_RESEND_STARTED_AFTER))
    if not _eager():
        run = broker_run_id()
        if run:  # Redis restarted since these were sent: the messages are gone
            lost |= Q(state__in=[State.SENT, State.STARTED], broker_run__gt="") & ~Q(broker_run=run)
    requeued += OutboxTask.objects.filter(lost).update(state=State.PENDING)
    pending = list(OutboxTask.objects.filter(state=State.PENDING).order_by("pk").values_list("pk", flat=True)[:limit])
    sent = send_rows(pending)
    result = {"requeued": requeued, "pending": len(pending), "sent": sent}
    if requeued or pending:
        logger.info("outbox sweep: %s", result)
    return result


def open_summary() -> dict[str, Any]:
    """For /healthz: how many rows wait, and the oldest one's age in seconds."""
    waiting = OutboxTask.objects.filter(state__in=[State.PENDING, State.SENDING])
    oldest = waiting.order_by("pk").values_list("created_at", flat=True).first()
    return {"pending": waiting.count(),
            "oldest_seconds": int((timezone.now() - oldest).total_seconds()) if oldest else 0}


# --- telling the user (operations.middleware reads this per request) -----------------------------

def note_unsent(*, error: Exception) -> None:
    _request_state.unsent = True


def take_unsent() -> bool:
    unsent = getattr(_request_state, "unsent", False)
    _request_state.unsent = False
    return unsent
