from django.contrib import admin

from .models import EarlyWarning, RecalcChunk, RecalcRun


class RecalcChunkInline(admin.TabularInline):
    model = RecalcChunk
    extra = 0
    can_delete = False
    fields = ["index", "lo", "hi", "status", "attempts", "person_years", "bills_changed", "adjustments_created", "finished_at", "error"]
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RecalcRun)
class RecalcRunAdmin(admin.ModelAdmin):
    """Runs are records of what happened: read-only in admin."""

    list_display = ["id", "started_at", "finished_at", "status", "trigger", "full", "dry_run", "year",
                    "chunks_done", "chunks_total", "person_years_total", "bills_changed", "adjustments_created",
                    "warnings_created"]
    list_filter = ["status", "trigger", "full", "dry_run"]
    date_hierarchy = "started_at"
    inlines = [RecalcChunkInline]
    readonly_fields = [f.name for f in RecalcRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EarlyWarning)
class EarlyWarningAdmin(admin.ModelAdmin):
    list_display = ["id", "household", "year", "kind", "burden", "threshold", "status", "created_at", "handled_by"]
    list_filter = ["status", "kind", "year", "household__district"]
    search_fields = ["household__members__name", "note"]
    list_select_related = ["household", "handled_by"]
    raw_id_fields = ["household", "run", "handled_by"]
    readonly_fields = ["household", "year", "kind", "burden", "threshold", "clause", "created_at", "run"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a warning's history is kept: dismiss it instead
