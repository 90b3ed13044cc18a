from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db.models import Q
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from organizations.permissions import PermissionRequiredMixin

from . import dashboard, roles
from .access import scope_for
from .selectors import scope_label


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


class HomeView(PermissionRequiredMixin, TemplateView):
    """工作台: the user's work queues (from every app's dashboard provider) and shortcuts."""

    permission = "signed_in"

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

    permission = "public"

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        if settings.SHOW_DEMO_LOGINS:
            from .demo import DEMO_USERS

            ctx["demo_users"] = [(u.username, u.password, roles.LABELS[u.role], u.title) for u in DEMO_USERS]
        return ctx


# ------------------------------------------------------------------------------------------
# Search (navbar box and every list's search box), see organizations/search.py
# ------------------------------------------------------------------------------------------

SEARCH_LIMIT = 20


class SearchGoView(PermissionRequiredMixin, View):
    """POST ``q`` (and ``next``, a list URL): back to the list with ``q`` or, for a full ID
    number, ``qid`` (a session token), so the number never appears in a URL."""

    permission = "signed_in"

    def post(self, request):
        from urllib.parse import urlencode

        from django.shortcuts import redirect
        from django.utils.http import url_has_allowed_host_and_scheme

        from . import search

        target = request.POST.get("next") or reverse("search")
        if not target.startswith("/") or not url_has_allowed_host_and_scheme(
                target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
            target = reverse("search")
        path, _sep, query = target.partition("?")
        params = QueryDict(query, mutable=True)
        for key in ("q", "qid", "page", "after"):
            params.pop(key, None)
        term = search.parse(request.POST.get("q"))
        if term is not None and term.id_number:
            params["qid"] = search.remember_id_number(request.session, term.id_number)
        elif term is not None:
            params["q"] = term.text
        encoded = params.urlencode() if params else urlencode({})
        return redirect(f"{path}?{encoded}" if encoded else path)


class SearchView(PermissionRequiredMixin, TemplateView):
    """全局搜索: persons, claims, relief applications and letters matching one term, each list
    through its own scoped selector (nothing outside the user's scope is found)."""

    permission = "signed_in"

    template_name = "search.html"

    def get_context_data(self, **kwargs):
        from . import search

        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        term = search.term_from_request(self.request)
        ctx["term"] = term
        ctx["sections"] = search_sections(user, term) if term is not None else []
        return ctx


def search_sections(user, term) -> list[dict]:
    """The result groups for ``term`` that ``user`` may see (label, rows, link to the full list)."""
    from applications.selectors import access_applications
    from beneficiaries.selectors import person_list
    from claims.selectors import access_claims
    from reports.selectors import access_letters

    from . import search

    sections = []
    persons = list(person_list(user=user).filter(search.person_filter(term))[:SEARCH_LIMIT])
    sections.append({"key": "persons", "label": _("救助对象"), "rows": persons, "list": reverse("beneficiaries:index")})
    if user.has_perm("claims.view_bill"):
        q = search.person_filter(term, "person__")
        if term.claim_pk:
            q |= Q(pk=term.claim_pk)
        claims = list(access_claims(user).filter(q).select_related("person").order_by("-id")[:SEARCH_LIMIT])
        sections.append({"key": "claims", "label": _("报销申请"), "rows": claims, "list": reverse("claims:index")})
    q = search.person_filter(term, "applicant__")
    if not (term.id_number or term.last4):
        q |= Q(number__icontains=term.text)
    apps = list(access_applications(user).filter(q).order_by("-id")[:SEARCH_LIMIT])
    sections.append({"key": "applications", "label": _("依申请救助"), "rows": apps, "list": reverse("applications:index")})
    if user.has_perm("reports.view_letter"):
        q = search.person_filter(term, "person__")
        if not (term.id_number or term.last4):
            q |= Q(number__icontains=term.text) | Q(recipient_name__icontains=term.text)
        letters = list(access_letters(user).filter(q).order_by("-issued_at", "-id")[:SEARCH_LIMIT])
        sections.append({"key": "letters", "label": _("决定书"), "rows": letters, "list": reverse("reports:index")})
    return sections


class PasswordChangeView(PermissionRequiredMixin, auth_views.PasswordChangeView):
    """Staff change their own password (old password, new one twice, Django's validators); the
    session stays signed in (``update_session_auth_hash``), every other session of the user ends."""

    permission = "signed_in"

    template_name = "registration/password_change.html"

    def get_success_url(self) -> str:
        return reverse("home")

    def form_valid(self, form):
        from django.contrib import messages

        response = super().form_valid(form)
        messages.success(self.request, _("密码已修改。"))
        return response
