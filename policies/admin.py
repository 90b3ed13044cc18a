"""Administrators view and edit policies here. An edit never rewrites a version: it saves a new one.

- the rules are edited as indented JSON and validated by the engine (``PolicySpec.from_dict``),
  errors naming the field (e.g. ``tiers[2].visit_classes.inpatient.rate``);
- saving the change form calls ``policy_revise``: version + 1 supersedes the old one;
- templates (the national framework) are confirmed with the "确认政策模板" action;
- nothing is deleted: bills and decisions keep pointing at the version they used.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .forms import PolicyCreateForm, PolicyReviseForm
from .models import Policy
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
            return format_html('<span style="color:#b45309;font-weight:600">{}</span>', gettext("待管理员确认"))
        if not obj.is_current:
            return gettext("已被新版本替代")
        return gettext("可用")

    @admin.display(description=_("生效期"), ordering="effective_from")
    def period(self, obj: Policy):
        end = obj.effective_to.isoformat() if obj.effective_to else gettext("至今")
        return format_html('<span style="white-space:nowrap">{} – {}</span>', obj.effective_from.isoformat(), end)

    @admin.display(description=_("规则（可读）"))
    def rules_readable(self, obj: Policy | None):
        if obj is None or obj.pk is None:
            return "—"
        try:
            spec = spec_of(obj)
        except Exception as exc:  # noqa: BLE001 - show why instead of a 500 on a broken row
            return format_html('<span style="color:#b91c1c">{}</span>', str(exc))
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
