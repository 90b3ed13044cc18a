from django.contrib import admin

from .models import Letter, LetterDelivery, LetterOffice, LetterSequence, PrintJob


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


@admin.register(LetterOffice)
class LetterOfficeAdmin(admin.ModelAdmin):
    """复议机关 and court per office, printed in every rights notice (POLICY.md §7, 2026-12)."""

    list_display = ("district", "reconsideration_body", "court", "updated_at")
    search_fields = ("district__name", "reconsideration_body", "court")
    list_select_related = ("district",)

    def has_delete_permission(self, request, obj=None):
        return False  # letters already issued printed these names; change them, never remove


@admin.register(LetterDelivery)
class LetterDeliveryAdmin(admin.ModelAdmin):
    """Delivery records are entered on the letter page (reports.services.letter_record_delivery);
    an administrator may correct the date, method or note of a wrong record here."""

    list_display = ("letter", "delivered_on", "method", "recorded_by", "recorded_at")
    list_filter = ("method", "delivered_on")
    search_fields = ("letter__number",)
    readonly_fields = ("letter", "recorded_by", "recorded_at")
    list_select_related = ("letter", "recorded_by")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
