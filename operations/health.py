"""What ``/healthz`` reports: database, broker, worker heartbeat, last nightly run, outbox.

HTTP 503 only when this web process cannot serve (database or broker down); a stale worker, a
failed or missing nightly run, or old pending work make the status ``degraded`` (200), so a load
balancer keeps the web in rotation while monitoring alerts on the field that says why.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone


def database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 - report any failure, never raise
        return f"error: {type(exc).__name__}"


def broker() -> str:
    if not settings.REDIS_URL:
        return "eager"
    try:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"


def worker() -> dict[str, Any]:
    from .models import WorkerHeartbeat

    if not settings.REDIS_URL:
        return {"status": "eager"}
    limit = settings.WORKER_HEARTBEAT_SECONDS * 4
    now = timezone.now()
    rows = list(WorkerHeartbeat.objects.order_by("-last_seen").values_list("hostname", "last_seen")[:50])
    alive = [host for host, seen in rows if (now - seen).total_seconds() <= limit]
    if not rows:
        return {"status": "none", "workers": 0}
    return {"status": "ok" if alive else "stale", "workers": len(alive),
            "last_seen": rows[0][1].isoformat(), "age_seconds": int((now - rows[0][1]).total_seconds())}


def nightly() -> dict[str, Any]:
    try:
        from monitoring.models import RecalcRun, RunTrigger
    except ImportError:  # pragma: no cover - the monitoring app is always installed
        return {"status": "unknown"}
    run = RecalcRun.objects.filter(trigger=RunTrigger.NIGHTLY).order_by("-pk").first()
    if run is None:
        return {"status": "none"}
    finished = getattr(run, "finished_at", None)
    out: dict[str, Any] = {"run": run.pk, "state": run.status,
                           "finished_at": finished.isoformat() if finished else None}
    reference = finished or getattr(run, "started_at", None) or getattr(run, "created_at", None)
    age_hours = (timezone.now() - reference).total_seconds() / 3600 if reference else None
    if age_hours is not None:
        out["age_hours"] = round(age_hours, 1)
    if run.status == "failed":
        out["status"] = "failed"
    elif age_hours is not None and age_hours > settings.NIGHTLY_STALE_HOURS:
        out["status"] = "stale"
    else:
        out["status"] = "ok"
    return out


def report() -> tuple[dict[str, Any], int]:
    from .outbox import open_summary

    body: dict[str, Any] = {"database": database(), "broker": broker()}
    if body["database"] != "ok":
        return {"status": "error", **body}, 503
    for name, probe in (("worker", worker), ("nightly", nightly), ("outbox", open_summary)):
        try:
            body[name] = probe()
        except Exception as exc:  # noqa: BLE001 - one probe's failure is reported, not raised
            body[name] = {"status": f"error: {type(exc).__name__}"}
    if body["broker"] not in ("ok", "eager"):
        return {"status": "error", **body}, 503
    degraded = (body["worker"].get("status") not in ("ok", "eager")
                or body["nightly"].get("status") not in ("ok", "none")
                or body["outbox"].get("oldest_seconds", 0) > settings.OUTBOX_ALERT_SECONDS)
    return {"status": "degraded" if degraded else "ok", **body}, 200
