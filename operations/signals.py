"""Worker-side hooks: outbox rows follow their task (started → done/failed), and each worker
process records a heartbeat every ``WORKER_HEARTBEAT_SECONDS`` (read by ``/healthz``)."""
from __future__ import annotations

import logging
import os
import socket
import threading

from celery import signals
from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)


@signals.task_prerun.connect
def _outbox_started(task_id=None, **_kwargs) -> None:
    from .models import OutboxTask

    OutboxTask.objects.filter(task_id=task_id, state__in=[OutboxTask.State.SENDING, OutboxTask.State.SENT,
                                                          OutboxTask.State.PENDING]).update(
        state=OutboxTask.State.STARTED, started_at=timezone.now())


@signals.task_postrun.connect
def _outbox_finished(task_id=None, state=None, retval=None, **_kwargs) -> None:
    from .models import OutboxTask

    if state == "RETRY":  # the task sent itself again with the same id
        return
    done = state == "SUCCESS"
    OutboxTask.objects.filter(task_id=task_id).exclude(state=OutboxTask.State.DONE).update(
        state=OutboxTask.State.DONE if done else OutboxTask.State.FAILED, finished_at=timezone.now(),
        last_error="" if done else f"{state}: {retval!r}"[:2000])


def beat_once(hostname: str) -> None:
    from .models import WorkerHeartbeat

    WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"pid": os.getpid(),
                                                                          "last_seen": timezone.now()})


def _heartbeat_loop(hostname: str, stop: threading.Event) -> None:
    from django.conf import settings

    while not stop.is_set():
        try:
            close_old_connections()
            beat_once(hostname)
        except Exception as exc:  # noqa: BLE001 - a missed beat shows as a stale heartbeat
            logger.warning("worker heartbeat not recorded: %s", exc)
        stop.wait(settings.WORKER_HEARTBEAT_SECONDS)


_stop = threading.Event()


@signals.worker_ready.connect
def _start_heartbeat(sender=None, **_kwargs) -> None:
    hostname = getattr(sender, "hostname", None) or f"celery@{socket.gethostname()}"
    _stop.clear()
    threading.Thread(target=_heartbeat_loop, args=(hostname, _stop), name="heartbeat", daemon=True).start()


@signals.worker_shutdown.connect
def _stop_heartbeat(**_kwargs) -> None:
    _stop.set()
