from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import connection
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView

from . import dashboard, roles
from .access import scope_for
from .selectors import scope_label


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


@dataclass(frozen=True)
class Shortcut:
    title: str
    description: str
    url: str
    icon: str


# What each role mainly does, linked to the app landing pages (every app keeps a url "index").
SHORTCUTS: list[tuple[tuple[str, ...], str, str, str, str]] = [
    ((roles.CASEWORKER, roles.REVIEWER, roles.CERTIFIER, roles.AUDITOR), _("救助对象"),
     _("人员、家庭与身份认定"), "beneficiaries:index", "people"),
    ((roles.CASEWORKER, roles.REVIEWER, roles.AUDITOR), _("救助费用"),
     _("一站式结算与手工报销的费用审核"), "claims:index", "receipt"),
    ((roles.CASEWORKER, roles.REVIEWER, roles.CERTIFIER, roles.AUDITOR), _("依申请救助"),
     _("因病致贫等依申请救助的受理与审批"), "applications:index", "journal-text"),
    ((roles.CASEWORKER, roles.CERTIFIER, roles.AUDITOR, roles.REVIEWER), _("预警与重算"),
     _("因病致贫返贫预警和身份变化后的重算"), "monitoring:index", "exclamation-triangle"),
    ((roles.CASEWORKER, roles.REVIEWER, roles.AUDITOR), _("决定书与报表"),
     _("救助决定书、台账与统计报表"), "reports:index", "file-earmark-text"),
    ((roles.CASEWORKER, roles.REVIEWER, roles.AUDITOR, roles.ADMINISTRATOR), _("政策"),
     _("现行救助政策、起付线与封顶线"), "policies:index", "book"),
]


def shortcuts_for(user) -> list[Shortcut]:
    items = [
        Shortcut(title, description, reverse(url_name), icon)
        for wanted, title, description, url_name, icon in SHORTCUTS
        if roles.has_role(user, *wanted)
    ]
    if user.is_staff:
        items.append(Shortcut(_("系统管理"), _("机构、人员、账号与权限"), reverse("admin:index"), "gear"))
    return items


class HomeView(LoginRequiredMixin, TemplateView):
    """工作台: the user's work queues (from every app's dashboard provider) and shortcuts."""

    template_name = "home.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        ctx = super().get_context_data(**kwargs)
        queues = dashboard.work_queues(user)
        ctx.update(
            queues=queues,
            open_items=sum(q.count for q in queues),
            shortcuts=shortcuts_for(user),
            role_labels=roles.labels_for(user),
            scope_label=scope_label(scope_for(user)),
            today=timezone.localdate(),
        )
        return ctx


class LoginView(auth_views.LoginView):
    """The login page; lists the demo accounts only where ``SHOW_DEMO_LOGINS`` is on."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        if settings.SHOW_DEMO_LOGINS:
            from .demo import DEMO_USERS

            ctx["demo_users"] = [(u.username, u.password, roles.LABELS[u.role], u.title) for u in DEMO_USERS]
        return ctx
