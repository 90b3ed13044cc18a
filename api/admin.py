"""Administrators register API clients here; the token is shown once, on creation."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import services
from .models import ApiAccessLog, ApiClient


class ApiClientForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ("name", "kind", "agency", "institution", "rate_limit")


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ("name", "kind", "agency", "institution", "rate_limit", "created_at", "revoked_at")
    list_filter = ("kind",)
    search_fields = ("name", "token_prefix")
    readonly_fields = ("token_prefix", "created_at", "created_by", "revoked_at", "revoked_by")
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # the binding of an existing client never changes: register a new one
            return (*self.readonly_fields, "kind", "agency", "institution")
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name", "rate_limit"])
            return
        client, token = services.api_client_create(
            name=obj.name, agency=obj.agency if obj.kind == ApiClient.Kind.AGENCY else None,
            institution=obj.institution if obj.kind == ApiClient.Kind.INSTITUTION else None,
            rate_limit=obj.rate_limit, by=request.user)
        obj.pk = client.pk
        obj.user_id, obj.token_prefix, obj.token_hash = client.user_id, client.token_prefix, client.token_hash
        messages.warning(request, _("令牌（只显示这一次，请立即交给对方系统）：%(t)s") % {"t": token})

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the access log refers to the client

    @admin.action(description=_("吊销所选客户端的令牌"))
    def revoke(self, request, queryset):
        for client in queryset:
            services.api_client_revoke(client=client, by=request.user)
        messages.success(request, _("已吊销。"))


@admin.register(ApiAccessLog)
class ApiAccessLogAdmin(admin.ModelAdmin):
    list_display = ("at", "client", "method", "path", "status_code", "duration_ms", "ip")
    list_filter = ("status_code", "method")
    search_fields = ("path",)
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
