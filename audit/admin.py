"""The access log in the admin: read only (no add, change or delete, for anyone)."""
from django.contrib import admin

from .models import AccessLog


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    list_display = ("at", "username", "action", "what", "person", "purpose", "ip")
    list_filter = ("action", "purpose", "at")
    search_fields = ("username", "person__name", "what")
    list_select_related = ("person",)
    raw_id_fields = ("user", "person")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in AccessLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
