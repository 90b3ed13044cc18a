from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView

from . import dashboard


@require_GET
def healthz(request):
    """Database and broker status as JSON (no login: for load balancers and monitoring)."""
    status = {"database": "ok", "broker": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - report any failure, never raise
        status["database"] = f"error: {type(exc).__name__}"
    status["broker"] = dashboard.broker_status()
    healthy = status["database"] == "ok" and status["broker"] in ("ok", "eager")
    return JsonResponse({"status": "ok" if healthy else "error", **status}, status=200 if healthy else 503)


class HomeView(LoginRequiredMixin, TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["queues"] = dashboard.work_queues(self.request.user)
        return ctx
