"""Login-throttling helpers (django-axes) and session bookkeeping."""
from __future__ import annotations

import time

from django.conf import settings


def client_ip(request) -> str | None:
    """The client address axes counts failures against.

    Behind a reverse proxy every request comes from the proxy, so locking ``REMOTE_ADDR`` would
    lock everyone at once. With ``TRUSTED_PROXY_COUNT = n`` (the number of proxies we run in
    front of gunicorn) the client is the n-th address from the right of ``X-Forwarded-For``:
    entries further left are supplied by the client and can be forged.
    """
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


def mark_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in`` receiver: the absolute session limit counts from the login itself."""
    from .middleware import LAST_SEEN, LOGIN_AT

    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[LOGIN_AT] = now
        request.session[LAST_SEEN] = now


def lockout_parameters(request_or_attempt, credentials=None) -> list:
    """``AXES_LOCKOUT_PARAMETERS`` (a callable): what failed logins are counted against.

    Always the **username**: five wrong passwords lock that account, from whatever address.
    The **address** only once failures from it name ``AXES_ADDRESS_USERNAME_LIMIT`` different
    usernames within the cool-off time (password spraying): an office behind one address where a
    typist mistypes their own password five times locks only that typist, not everyone behind it.
    """
    from datetime import timedelta

    from axes.models import AccessAttempt
    from django.http import HttpRequest
    from django.utils import timezone

    if not isinstance(request_or_attempt, HttpRequest):
        return ["username"]
    address = getattr(request_or_attempt, "axes_ip_address", None) or client_ip(request_or_attempt)
    if not address:
        return ["username"]
    since = timezone.now() - timedelta(hours=float(settings.AXES_COOLOFF_TIME))
    usernames = (AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=since)
                 .values("username").distinct().count())
    if usernames >= settings.AXES_ADDRESS_USERNAME_LIMIT:
        return ["username", "ip_address"]
    return ["username"]
