"""Writing the access log: one call, :func:`record`, used by the reveal, the export middleware
and the API. Never logs an ID number itself: ``what`` names the data, ``person`` whose."""
from __future__ import annotations

from .models import AccessLog, Action


def _client_ip(request) -> str | None:
    if request is None:
        return None
    from organizations.security import client_ip

    try:
        return client_ip(request) or None
    except Exception:  # noqa: BLE001 - an address we cannot read is not a reason to lose the record
        return request.META.get("REMOTE_ADDR") or None


def record(*, user, action: str, what: str, person=None, subjects: str = "", purpose: str = "", note: str = "",
           request=None) -> AccessLog:
    if action not in Action.values:
        raise ValueError(f"unknown access-log action {action!r}")
    path = ""
    if request is not None:
        path = request.path[:300].replace("\x00", "")
    return AccessLog.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        username=(user.get_username() if user is not None and user.is_authenticated else "")[:150],
        action=action, what=what[:300].replace("\x00", ""), person=person,
        subjects=subjects[:500].replace("\x00", ""), purpose=purpose, note=note[:200].replace("\x00", ""),
        path=path, ip=_client_ip(request),
    )
