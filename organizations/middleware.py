"""Caseworker sessions end after inactivity and at an absolute limit."""
from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect, resolve_url
from django.utils.translation import gettext as _

LOGIN_AT = "_login_at"
LAST_SEEN = "_last_seen"


class SessionTimeoutMiddleware:
    """Log out after ``SESSION_IDLE_TIMEOUT`` seconds without a request and, however active the
    user is, ``SESSION_ABSOLUTE_TIMEOUT`` seconds after login (``security.mark_login`` stamps it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            login_at = session.setdefault(LOGIN_AT, now)
            last_seen = session.get(LAST_SEEN, now)
            idle = now - last_seen > settings.SESSION_IDLE_TIMEOUT
            too_old = now - login_at > settings.SESSION_ABSOLUTE_TIMEOUT
            if idle or too_old:
                logout(request)
                messages.info(request, _("会话已超时，请重新登录。"))
                login_url = resolve_url(settings.LOGIN_URL)
                if request.method == "GET":
                    login_url += "?" + urlencode({"next": request.get_full_path()})
                return redirect(login_url)
            # Write at most once a minute, so not every request saves the session.
            if now - last_seen >= 60 or LAST_SEEN not in session:
                session[LAST_SEEN] = now
        return self.get_response(request)


class DefaultLanguageMiddleware:
    """Chinese unless the user picked another language with the switcher (language cookie).

    Runs before ``LocaleMiddleware`` and hides the browser's ``Accept-Language``: office PCs often
    have English-language browsers, and the interface of record is Simplified Chinese.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
