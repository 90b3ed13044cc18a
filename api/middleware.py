"""Every call to /api/ is written to ApiAccessLog (client, method, path, status, duration, address)."""
from __future__ import annotations

import time

from django.db import DatabaseError

from .models import ApiAccessLog


class ApiAccessLogMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        started = time.monotonic()
        response = self.get_response(request)
        client = getattr(request, "api_client", None)
        try:
            ApiAccessLog.objects.create(
                client=client, method=request.method[:10], path=request.path[:300].replace("\x00", ""),
                status_code=response.status_code, duration_ms=int((time.monotonic() - started) * 1000),
                ip=request.META.get("REMOTE_ADDR") or None,
            )
        except DatabaseError:  # never turn an answer into a 500 over the log; but say so
            import logging

            logging.getLogger(__name__).exception("api access log write failed")
        return response
