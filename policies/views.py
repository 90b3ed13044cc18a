"""Caseworker screens: the policies in force and each policy's rules, human-readable."""
from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.generic import DetailView, ListView

from .models import Policy
from .selectors import access_policies, describe_policy, spec_of


def _status(policy: Policy, today) -> str:
    if policy.needs_confirmation and policy.confirmed_at is None:
        return "pending"
    if policy.effective_from > today:
        return "future"
    if policy.effective_to is not None and policy.effective_to < today:
        return "expired"
    return "in_force"


class PolicyListView(LoginRequiredMixin, ListView):
    """Current versions (or every version with ``?all=1``) the user may read."""

    template_name = "policies/policy_list.html"
    context_object_name = "policies"

    def get_queryset(self):
        return access_policies(self.request.user).order_by("region__code", "code", "-version")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        today = timezone.localdate()
        versions = list(ctx["policies"])
        for policy in versions:
            policy.status = _status(policy, today)
        show_all = bool(self.request.GET.get("all"))
        ctx["show_all"] = show_all
        ctx["rows"] = side_by_side(versions)
        if not show_all:
            ctx["policies"] = [p for row in ctx["rows"] for p in (row["in_force"], *row["scheduled"]) if p is not None]
        ctx["pending"] = [p for p in ctx["policies"] if p.status == "pending" and p.is_current]
        ctx["today"] = today
        return ctx


def side_by_side(versions: list[Policy]) -> list[dict]:
    """One row per policy code: the version in force today and the scheduled (future) ones.

    Saving a future version makes it the *current* row of its code, which used to hide the
    version still in force from this page (issue 18); the engine always used the right one.
    A code with nothing in force shows its current version (a pending template, an expired one).
    """
    groups: dict[str, list[Policy]] = {}
    for policy in versions:
        groups.setdefault(policy.code, []).append(policy)
    rows = []
    for code, group in groups.items():
        in_force = max((p for p in group if p.status == "in_force"),
                       key=lambda p: (p.effective_from, p.version), default=None)
        scheduled = sorted((p for p in group if p.status == "future"), key=lambda p: (p.effective_from, p.version))
        if in_force is None and not scheduled:
            in_force = next((p for p in group if p.is_current), group[0])
        rows.append({"code": code, "region": group[0].region, "in_force": in_force, "scheduled": scheduled})
    return rows


class PolicyDetailView(LoginRequiredMixin, DetailView):
    template_name = "policies/policy_detail.html"
    context_object_name = "policy"

    def get_object(self, queryset=None):
        return get_object_or_404(access_policies(self.request.user), pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        policy = self.object
        today = timezone.localdate()
        policy.status = _status(policy, today)
        from .engine.types import PolicyError

        try:
            ctx["spec"] = spec = spec_of(policy)
            ctx["d"] = describe_policy(spec)
        except PolicyError as exc:  # stored rules that do not validate: say where, do not 500
            ctx["rules_error"] = f"{exc.field}: {exc.message}"
        ctx["versions"] = access_policies(self.request.user).filter(code=policy.code).order_by("-version")
        from organizations import roles
        from organizations.access import restrict

        from .districts import describe_overrides
        from .models import DistrictPolicy

        standards = restrict(DistrictPolicy.objects.filter(policy_code=policy.code).select_related("district"),
                             self.request.user, district="district").order_by("district__code", "-effective_from")
        ctx["district_standards"] = [{"obj": row, "rows": describe_overrides(row.overrides)} for row in standards]
        ctx["can_edit_district_standards"] = (self.request.user.is_superuser
                                              or roles.has_role(self.request.user, roles.ADMINISTRATOR))
        # The statistics its deductibles and subsidies read (上年居民人均可支配收入, 个人缴费).
        ctx["statistics"] = policy.region.statistics.order_by("-year")[:5] if policy.region_id else []
        return ctx
