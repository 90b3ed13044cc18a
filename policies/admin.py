"""Administrators view and edit policies here. An edit never rewrites a version: it saves a new one.

- the rules are edited as indented JSON and validated by the engine (``PolicySpec.from_dict``),
  errors naming the field (e.g. ``tiers[2].visit_classes.inpatient.rate``);
- saving the change form calls ``policy_revise``: version + 1 supersedes the old one;
- templates (the national framework) are confirmed with the "确认政策模板" action;
- nothing is deleted: bills and decisions keep pointing at the version they used.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from organizations import roles
from organizations.access import restrict, scope_for
from organizations.models import District

from .districts import OVERRIDABLE, OverrideError, apply_overrides, describe_overrides
from .forms import PolicyCreateForm, PolicyReviseForm
from .models import DistrictPolicy, Policy
from .selectors import describe_policy, forget_spec, spec_of
from .services import policy_confirm, policy_revise, validate_rules


class UsableFilter(admin.SimpleListFilter):
    title = _("可用状态")
    parameter_name = "usable"

    def lookups(self, request, model_admin):
        return [("yes", _("可用")), ("pending", _("待确认模板"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(needs_confirmation=True, confirmed_at__isnull=True)
        if self.value() == "pending":
            return queryset.filter(needs_confirmation=True, confirmed_at__isnull=True)
        return queryset


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    class Media:  # the rules' table styles: a static file, not an inline <style> (CSP)
        css = {"all": ("css/admin-policies.css",)}

    list_display = ("code", "version", "region", "document_no", "title", "period", "status_badge")
    list_display_links = ("code", "version")
    list_filter = ("is_current", UsableFilter, "region")
    search_fields = ("code", "document_no", "title", "region__name", "change_note")
    list_select_related = ("region",)
    ordering = ("code", "-version")
    actions = ["confirm_templates"]
    date_hierarchy = "effective_from"

    readonly_meta = ("code", "version", "region", "document_no", "title", "effective_from", "effective_to",
                     "needs_confirmation", "confirmed_at", "confirmed_by", "is_current", "supersedes",
                     "created_at", "created_by", "updated_at")

    # -- display ---------------------------------------------------------------------------
    @admin.display(description=_("状态"))
    def status_badge(self, obj: Policy):
        if obj.needs_confirmation and obj.confirmed_at is None:
            return format_html('<span class="pv-warn">{}</span>', gettext("待管理员确认"))
        if not obj.is_current:
            return gettext("已被新版本替代")
        return gettext("可用")

    @admin.display(description=_("生效期"), ordering="effective_from")
    def period(self, obj: Policy):
        end = obj.effective_to.isoformat() if obj.effective_to else gettext("至今")
        return format_html('<span class="pv-nowrap">{} – {}</span>', obj.effective_from.isoformat(), end)

    @admin.display(description=_("规则（可读）"))
    def rules_readable(self, obj: Policy | None):
        if obj is None or obj.pk is None:
            return "—"
        try:
            spec = spec_of(obj)
        except Exception as exc:  # noqa: BLE001 - show why instead of a 500 on a broken row
            return format_html('<span class="pv-error">{}</span>', str(exc))
        return render_to_string("policies/_rules.html", {"d": describe_policy(spec), "spec": spec, "admin": True})

    @admin.display(description=_("版本历史"))
    def version_history(self, obj: Policy | None):
        if obj is None or obj.pk is None:
            return "—"
        rows = Policy.objects.filter(code=obj.code).order_by("-version")
        return render_to_string("policies/_versions_admin.html", {"rows": rows, "current": obj})

    # -- forms -----------------------------------------------------------------------------
    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = PolicyReviseForm if obj is not None else PolicyCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    META_ROWS = (("code", "version", "region"), ("document_no", "title"), ("effective_from", "effective_to", "is_current"),
                 ("needs_confirmation", "confirmed_at", "confirmed_by"), ("supersedes", "created_by", "created_at"))

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["code", "region", "rules", "change_note"],
                            "description": gettext("文号、标题和生效日期取自规则；新政策为第1版。")})]
        editable = obj.is_current and self.has_change_permission(request, obj)
        sets = [
            (_("版本信息"), {"fields": self.META_ROWS}),
            (_("版本历史"), {"fields": ["version_history"] + ([] if editable else ["change_note"])}),
            (_("规则（可读）"), {"fields": ["rules_readable"]}),
        ]
        if editable:
            sets.append((_("修改规则（保存为新版本）"), {
                "fields": ["rules", "new_effective_from", "change_note"],
                "description": gettext("保存后生成新版本并替代当前版本；原版本及按原版本作出的决定保持不变。"),
            }))
        return sets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if not obj.is_current or not self.has_change_permission(request, obj):
            return [*self.readonly_meta, "change_note", "version_history", "rules_readable"]
        return [*self.readonly_meta, "version_history", "rules_readable"]

    def has_delete_permission(self, request, obj=None):
        return False  # versions are history: decisions were computed with them

    def save_model(self, request, obj, form, change):
        if not change:
            spec = validate_rules(form.cleaned_data["rules"])
            obj.version = 1
            obj.document_no = spec.document_no
            obj.title = spec.title
            obj.effective_from = spec.effective_from
            obj.effective_to = spec.effective_to
            obj.needs_confirmation = spec.needs_confirmation
            obj.created_by = request.user
            obj.is_current = True
            obj.save()
            return
        new = policy_revise(policy=Policy.objects.get(pk=obj.pk), rules=form.cleaned_data["rules"],
                            effective_from=form.cleaned_data["new_effective_from"],
                            note=form.cleaned_data["change_note"], by=request.user)
        forget_spec(obj.pk)
        request._policy_new_version = new

    def save_related(self, request, form, formsets, change):
        if not change:
            super().save_related(request, form, formsets, change)

    def response_change(self, request, obj):
        new = getattr(request, "_policy_new_version", None)
        if new is None:
            return super().response_change(request, obj)
        self.message_user(request, gettext("已保存为新版本 v%(version)s；原版本 v%(old)s 保留，已作出的决定不受影响。")
                          % {"version": new.version, "old": obj.version}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:policies_policy_change", args=[new.pk]))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            # A service check that the form could not see (e.g. a concurrent revision).
            self.message_user(request, "；".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    # -- actions ---------------------------------------------------------------------------
    @admin.action(description=_("确认政策模板（确认后方可用于计算）"), permissions=["change"])
    def confirm_templates(self, request, queryset):
        done = 0
        for policy in queryset:
            try:
                policy_confirm(policy=policy, by=request.user)
                done += 1
            except (ValidationError, PermissionDenied) as exc:
                text = "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{policy.code} v{policy.version}：{text}", messages.WARNING)
        if done:
            self.message_user(request, gettext("已确认 %(n)s 个政策模板。") % {"n": done}, messages.SUCCESS)


# --------------------------------------------------------------------------------------------
# 区级标准: a district administrator edits their district's standards (Beijing 七)
# --------------------------------------------------------------------------------------------

def _districts_of(user):
    """Districts ``user`` may set standards for: their own, or their region's for city staff."""
    scope = scope_for(user)
    qs = District.objects.select_related("region")
    if scope.everything:
        return qs
    if scope.nothing:
        return qs.none()
    if scope.district_id is not None:
        return qs.filter(pk=scope.district_id)
    return qs.filter(region_id=scope.region_id)


class DistrictPolicyForm(forms.ModelForm):
    """The tilted-assistance standard as plain fields; other named parameters as JSON."""

    tilted_threshold = forms.DecimalField(label=_("倾斜救助：年度累计个人负担起付线（元）"), required=False, min_value=0,
                                          max_digits=14, decimal_places=2)
    tilted_rate = forms.DecimalField(label=_("倾斜救助：救助比例（如 0.60）"), required=False, min_value=0, max_value=1,
                                     max_digits=5, decimal_places=4)
    tilted_cap = forms.DecimalField(label=_("倾斜救助：年度限额（元，空为不设）"), required=False, min_value=0,
                                    max_digits=14, decimal_places=2)
    tilted_in_region = forms.BooleanField(label=_("倾斜救助仅限规范转诊且市域内就医"), required=False, initial=True)

    class Meta:
        model = DistrictPolicy
        fields = ["district", "policy_code", "document_no", "clause", "title", "effective_from", "effective_to",
                  "overrides"]
        widgets = {"overrides": forms.Textarea(attrs={"rows": 4, "cols": 80})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["overrides"].required = False
        self.fields["overrides"].help_text = gettext("其他参数（高级）：%(names)s") % {"names": ", ".join(OVERRIDABLE)}
        if user is not None and "district" in self.fields:
            self.fields["district"].queryset = _districts_of(user)
        tilted = (self.instance.overrides or {}).get("tilted") if self.instance.pk else None
        if isinstance(tilted, dict):
            self.initial.setdefault("tilted_threshold", tilted.get("threshold"))
            self.initial.setdefault("tilted_rate", tilted.get("rate"))
            self.initial.setdefault("tilted_cap", tilted.get("cap"))
            self.initial.setdefault("tilted_in_region", bool(tilted.get("required_flags")))

    def clean(self):
        data = super().clean()
        overrides = dict(data.get("overrides") or {})
        threshold, rate = data.get("tilted_threshold"), data.get("tilted_rate")
        if (threshold is None) != (rate is None):
            raise ValidationError(gettext("倾斜救助的起付线和比例须同时填写。"), code="tilted_incomplete")
        if threshold is not None:
            cap = data.get("tilted_cap")
            overrides["tilted"] = {
                "threshold": f"{threshold:.2f}", "rate": str(rate.normalize()) if rate == rate.to_integral() else str(rate),
                "required_flags": {"referral_compliant": True, "in_province": True} if data.get("tilted_in_region") else {},
                "cap": None if cap is None else f"{cap:.2f}",
            }
        data["overrides"] = overrides
        district, code, start = data.get("district"), data.get("policy_code"), data.get("effective_from")
        if district is not None and code and start:
            from .selectors import policy_in_force

            policy = Policy.objects.filter(code=code, is_current=True).first()
            if policy is None or policy.region_id != district.region_id:
                self.add_error("policy_code", gettext("%(district)s 所在统筹地区没有政策 %(code)s。")
                               % {"district": district.name, "code": code})
                return data
            cite = f"{data.get('document_no', '')} {data.get('clause', '')}".strip()
            try:
                spec_rules = apply_overrides(policy.rules, overrides, cite)
            except OverrideError as exc:
                self.add_error("overrides", gettext("参数 %(name)s：%(message)s") % {"name": exc.name,
                                                                                 "message": exc.message})
                return data
            validate_rules(spec_rules)
            if policy_in_force(region=district.region_id, on=start) is None:
                self.add_error("effective_from", gettext("该日期没有在用的市级政策。"))
        return data


@admin.register(DistrictPolicy)
class DistrictPolicyAdmin(admin.ModelAdmin):
    """区级标准: only administrators; a district administrator sees and edits their district's only."""

    form = DistrictPolicyForm
    list_display = ("district", "policy_code", "document_no", "clause", "effective_from", "effective_to", "summary")
    list_filter = ("policy_code",)
    list_select_related = ("district",)
    fieldsets = [
        (None, {"fields": ["district", "policy_code", "document_no", "clause", "title", "effective_from",
                           "effective_to"]}),
        (_("倾斜救助标准（京 七：具体救助标准由各区人民政府确定）"),
         {"fields": ["tilted_threshold", "tilted_rate", "tilted_cap", "tilted_in_region"]}),
        (_("其他覆盖参数"), {"fields": ["overrides"], "classes": ["collapse"]}),
    ]

    @admin.display(description=_("区级取值"))
    def summary(self, obj: DistrictPolicy):
        return "；".join(f"{name}：{text}" for name, text in describe_overrides(obj.overrides))

    def get_queryset(self, request):
        return restrict(super().get_queryset(request), request.user, district="district")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class ScopedForm(form):  # type: ignore[misc, valid-type]
            def __init__(self, *args, **kw):
                super().__init__(*args, user=request.user, **kw)

        return ScopedForm

    def _administers(self, request, obj=None) -> bool:
        if not (request.user.is_superuser or roles.has_role(request.user, roles.ADMINISTRATOR)):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_view_permission(self, request, obj=None):
        if self._administers(request, obj):
            return True
        in_scope = obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()
        return super().has_view_permission(request, obj) and in_scope

    def has_add_permission(self, request):
        return self._administers(request)

    def has_change_permission(self, request, obj=None):
        return self._administers(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # end-date a standard instead: bills were computed with it

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        obj.updated_by = request.user
        obj.full_clean()
        obj.save()
        forget_spec()
