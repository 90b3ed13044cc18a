"""Admin: read-mostly views of the registry; ID numbers masked in lists; reveal log visible."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from .models import Category, Certification, Household, IdRevealLog, ImportBatch, Person


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "agency_kind", "co_agency_kind", "sort_order")
    list_filter = ("agency_kind",)
    search_fields = ("code", "name")


class NoDeleteMixin:
    """Nothing a citizen's rights depend on is deleted (end-date it, keep history)."""

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Household)
class HouseholdAdmin(NoDeleteMixin, SimpleHistoryAdmin):
    list_display = ("pk", "district", "address", "created_at")
    list_filter = ("district",)


@admin.register(Person)
class PersonAdmin(NoDeleteMixin, SimpleHistoryAdmin):
    # Age, not birth date, beside the masked number (the mask hides exactly the birth date).
    list_display = ("name", "masked_id", "gender", "age", "hukou_district", "insurance_type", "household")
    list_filter = ("hukou_district", "insurance_type", "gender", "registration_source")
    search_fields = ("name", "=id_number")  # exact match only on the number
    raw_id_fields = ("household",)
    list_select_related = ("hukou_district", "household")

    @admin.display(description=_("身份证号"))
    def masked_id(self, obj):
        return obj.masked_id_number

    @admin.display(description=_("年龄"), ordering="-birth_date")
    def age(self, obj):
        return obj.age


@admin.register(Certification)
class CertificationAdmin(NoDeleteMixin, SimpleHistoryAdmin):
    list_display = ("person", "category", "agency", "valid_from", "valid_until", "document_ref", "import_batch")
    list_filter = ("category", "agency__kind")
    search_fields = ("person__name", "=person__id_number", "document_ref")
    raw_id_fields = ("person", "officer", "revoked_by", "import_batch")
    list_select_related = ("person", "category", "agency", "import_batch")
    date_hierarchy = "valid_from"


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ("pk", "file_name", "agency", "source", "status", "uploaded_by", "created_at",
                    "created_count", "unchanged_count", "revoked_count", "rejected_count")
    list_filter = ("status", "source", "agency")
    readonly_fields = [f.name for f in ImportBatch._meta.fields]
    exclude = ("errors",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IdRevealLog)
class IdRevealLogAdmin(admin.ModelAdmin):
    list_display = ("at", "user", "person", "purpose")
    list_filter = ("at",)
    search_fields = ("user__username", "person__name")
    readonly_fields = ("at", "user", "person", "purpose")
    list_select_related = ("user", "person")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
