from django.contrib import admin

from .models import Letter, LetterSequence, PrintJob


@admin.register(Letter)
class LetterAdmin(admin.ModelAdmin):
    """Read-only: letters are issued and corrected through the services, never edited here."""

    list_display = ("number", "kind", "recipient_name", "amount", "issued_on", "district")
    list_filter = ("kind", "district", "issued_on")
    search_fields = ("number",)
    readonly_fields = [f.name for f in Letter._meta.fields]
    list_select_related = ("district",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LetterSequence)
class LetterSequenceAdmin(admin.ModelAdmin):
    list_display = ("district", "year", "last")
    readonly_fields = ("district", "year", "last")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PrintJob)
class PrintJobAdmin(admin.ModelAdmin):
    list_display = ("id", "requested_by", "issued_on", "payment_batch_id", "status", "letter_count", "created_at")
    readonly_fields = [f.name for f in PrintJob._meta.fields]

    def has_add_permission(self, request):
        return False
