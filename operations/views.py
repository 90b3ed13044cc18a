from django.http import JsonResponse
from django.views.decorators.http import require_GET

from organizations.permissions import PUBLIC, requires

from . import health


@requires(PUBLIC)
@require_GET
def healthz(request):
    """Database, broker, worker heartbeat, last nightly run and outbox as JSON; no login, plain
    HTTP allowed (production exempts it from the https redirect) for internal probes."""
    body, status = health.report()
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response
