"""Caseworker screens: the policies in force and each policy's rules, human-readable."""
from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import DetailView, ListView

from organizations.permissions import PermissionRequiredMixin

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


class PolicyListView(PermissionRequiredMixin, ListView):
    """Current versions (or every version with ``?all=1``) the user may read."""

    permission = "policies.view"

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


class PolicyDetailView(PermissionRequiredMixin, DetailView):
    permission = "policies.view"

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
        ctx["can_edit_rules"] = can_edit_policy(self.request.user, policy)
        ctx["can_edit_district_standards"] = (self.request.user.is_superuser
                                              or roles.has_role(self.request.user, roles.ADMINISTRATOR))
        # The statistics its deductibles and subsidies read (上年居民人均可支配收入, 个人缴费).
        ctx["statistics"] = policy.region.statistics.order_by("-year")[:5] if policy.region_id else []
        return ctx


# --------------------------------------------------------------------------------------------
# The structured editor (issue 18/19): form → confirmation with the diff → saved by the service
# --------------------------------------------------------------------------------------------

def can_edit_policy(user, policy: Policy) -> bool:
    """Who may revise a policy, as ``policy_revise`` requires: an administrator, at the level the
    policy is made (city-level staff of its region; a national template: superusers). District
    administrators set their district's standards (区级标准, ``DistrictPolicy`` in the admin)."""
    from organizations import roles
    from organizations.access import scope_for

    if not policy.is_current or not roles.has_role(user, roles.ADMINISTRATOR):
        return False
    scope = scope_for(user)
    if scope.everything:
        return True
    if scope.nothing or scope.district_id is not None:
        return False
    return policy.region_id is not None and policy.region_id == scope.region_id


class StructuredEditView(PermissionRequiredMixin, View):
    """GET: the form. POST ``action=preview``: validated (fields, then the engine), the diff against
    the version in force, nothing saved. ``action=confirm``: validated again and saved by the service.
    ``action=back``: the form again with what was typed."""

    template_name = "policies/structured_edit.html"
    confirm_template_name = "policies/structured_confirm.html"

    # hooks ----------------------------------------------------------------------------------
    def get_object(self, request, pk):
        raise NotImplementedError

    def check_permission(self, request, obj) -> None:
        raise NotImplementedError

    def make_form(self, request, obj, data=None):
        raise NotImplementedError

    def in_force(self, request, obj):
        """(the version the diff is against, its label)."""
        raise NotImplementedError

    def save(self, request, obj, form):
        """Save through the service; returns the URL to go to."""
        raise NotImplementedError

    def context(self, request, obj) -> dict:
        return {}

    # flow ------------------------------------------------------------------------------------
    def get(self, request, pk):
        obj = self.get_object(request, pk)
        self.check_permission(request, obj)
        return self.render_form(request, obj, self.make_form(request, obj))

    def post(self, request, pk):
        from django.contrib import messages
        from django.core.exceptions import ValidationError
        from django.shortcuts import redirect

        obj = self.get_object(request, pk)
        self.check_permission(request, obj)
        form = self.make_form(request, obj, request.POST)
        action = request.POST.get("action", "preview")
        if not form.is_valid() or action == "back":
            return self.render_form(request, obj, form)
        if action == "confirm":
            if not form.stamp_is_fresh():
                form.add_error(None, _("规则在您确认前已被修改（他人保存了新版本或草拟规则），请核对后重新提交。"))
                return self.render_form(request, obj, form)
            try:
                url = self.save(request, obj, form)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
                return self.render_form(request, obj, form)
            messages.success(request, self.saved_message)
            return redirect(url)
        from .editor import diff_rules

        base, base_label = self.in_force(request, obj)
        changes = diff_rules(base.rules, form.cleaned_data["rules"])
        return render(request, self.confirm_template_name, {
            **self.context(request, obj), "obj": obj, "form": form, "changes": changes, "base": base,
            "base_label": base_label, "extra": [f for f in form.extra_bound_fields if not f.is_hidden]})

    def render_form(self, request, obj, form):
        return render(request, self.template_name, {**self.context(request, obj), "obj": obj, "form": form})


class PolicyEditView(StructuredEditView):
    permission = "policies.edit"
    saved_message = _("已保存为新版本；原版本及按原版本作出的决定保持不变。")

    def get_object(self, request, pk):
        return get_object_or_404(access_policies(request.user), pk=pk)

    def check_permission(self, request, obj):
        from django.core.exceptions import PermissionDenied

        if not can_edit_policy(request.user, obj):
            raise PermissionDenied(_("只有系统管理员可以修改当前版本的政策。"))

    def make_form(self, request, obj, data=None):
        from .forms import PolicyStructuredForm

        return PolicyStructuredForm(data, policy=obj)

    def in_force(self, request, obj):
        from .selectors import choose_in_force

        today = timezone.localdate()
        versions = [p for p in access_policies(request.user).filter(code=obj.code) if p.usable]
        found = choose_in_force(versions, region_id=obj.region_id, on=today) or obj
        return found, _("现行版本 v%(version)s（%(from)s 起）") % {"version": found.version,
                                                                "from": found.effective_from.isoformat()}

    def save(self, request, obj, form):
        from django.urls import reverse

        from .selectors import forget_spec
        from .services import policy_revise

        data = form.cleaned_data
        new = policy_revise(policy=obj, rules=data["rules"], effective_from=data["new_effective_from"],
                            note=data["change_note"], by=request.user)
        forget_spec(obj.pk)
        return reverse("policies:detail", args=[new.pk])

    def context(self, request, obj):
        from django.urls import reverse

        return {"title": f"{obj.document_no} {obj.title}（v{obj.version}）", "kind": "policy",
                "cancel_url": reverse("policies:detail", args=[obj.pk]),
                "json_url": reverse("admin:policies_policy_change", args=[obj.pk]) if request.user.is_staff else None}
