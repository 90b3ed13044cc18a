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
        qs = access_policies(self.request.user)
        if not self.request.GET.get("all"):
            qs = qs.filter(is_current=True)
        return qs.order_by("region__code", "code", "-version")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        today = timezone.localdate()
        for policy in ctx["policies"]:
            policy.status = _status(policy, today)
        ctx["show_all"] = bool(self.request.GET.get("all"))
        ctx["pending"] = [p for p in ctx["policies"] if p.status == "pending"]
        ctx["today"] = today
        return ctx


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
        # The statistics its deductibles and subsidies read (上年居民人均可支配收入, 个人缴费).
        ctx["statistics"] = policy.region.statistics.order_by("-year")[:5] if policy.region_id else []
        return ctx
