"""Two response rules for personal data, in one place so no view can forget them.

- :class:`PrivacyHeadersMiddleware`: ``Cache-Control: no-store`` on every page, export and PDF
  the application answers (static files are answered earlier by WhiteNoise and stay cacheable),
  so no browser, proxy or shared office computer keeps personal data on disk; and a
  ``Permissions-Policy`` that turns off the browser features the system never uses.
- :class:`ExportLogMiddleware`: every file a signed-in user downloads (CSV/XLSX exports, letter
  and report PDFs, batches) is written to the access log, with the filters it was made with.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError

from .models import Action
from .services import record

logger = logging.getLogger(__name__)

PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), publickey-credentials-get=(), usb=(), "
    "screen-wake-lock=(), xr-spatial-tracking=(), fullscreen=(self)"
)
FILE_TYPES = ("text/csv", "application/pdf", "application/vnd.openxmlformats-officedocument", "application/zip")
# Files without personal data (empty templates for imports): not logged.
UNLOGGED_URL_NAMES = {"import_template", "setlinfo_template"}


class PrivacyHeadersMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(settings.STATIC_URL):
            cache = response.get("Cache-Control", "")
            if "no-store" not in cache:
                response["Cache-Control"] = "no-store" if not cache or "public" in cache else f"{cache}, no-store"
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


def is_file_response(response) -> bool:
    if response.get("Content-Disposition"):
        return True
    return response.get("Content-Type", "").split(";")[0].strip().startswith(FILE_TYPES)


class ExportLogMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is None or not user.is_authenticated or response.status_code != 200
                or request.path.startswith("/api/") or not is_file_response(response)
                or getattr(response, "access_logged", False)):
            return response
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name in UNLOGGED_URL_NAMES:
            return response
        name = match.view_name if match is not None else request.path
        disposition = response.get("Content-Disposition", "")
        filename = disposition.split("filename=", 1)[1].split(";")[0].strip('"') if "filename=" in disposition else ""
        try:
            record(user=user, action=Action.EXPORT, what=f"{name} {filename}".strip(),
                   person=getattr(response, "access_person", None),
                   subjects=request.GET.urlencode()[:500],  # the filters; never a POST body (ID searches)
                   request=request)
        except DatabaseError:
            # an export that cannot be logged is not handed out
            logger.exception("access log write failed; export refused")
            from django.http import HttpResponseServerError

            return HttpResponseServerError("access log unavailable")
        return response
