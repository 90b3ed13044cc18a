from django.contrib import admin

from .models import Application, ApplicationDocument, ApplicationTransition, CountedBill, ExtraBill, HouseholdAssessment


class TransitionInline(admin.TabularInline):
    model = ApplicationTransition
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "by", "at", "note"]


class DocumentInline(admin.TabularInline):
    model = ApplicationDocument
    extra = 0
    can_delete = False
    readonly_fields = ["uploaded_by", "uploaded_at"]


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ["number", "applicant", "district", "received_on", "channel", "status", "burden", "relief"]
    list_filter = ["status", "channel", "district", "year"]
    search_fields = ["number", "applicant__name"]
    date_hierarchy = "received_on"
    raw_id_fields = ["household", "applicant", "policy", "computed_by", "decided_by", "created_by"]
    readonly_fields = ["computation", "computed_at", "decided_at", "created_at"]
    inlines = [TransitionInline, DocumentInline]

    def has_delete_permission(self, request, obj=None):
        return False  # nothing a citizen's rights depend on is deleted


@admin.register(HouseholdAssessment)
class HouseholdAssessmentAdmin(admin.ModelAdmin):
    list_display = ["application", "annual_income", "assets", "members_count", "result", "assessed_by", "assessed_at"]
    list_filter = ["result"]
    search_fields = ["application__number", "application__applicant__name"]
    raw_id_fields = ["application", "certification", "assessed_by"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ExtraBill)
class ExtraBillAdmin(admin.ModelAdmin):
    list_display = ["application", "person", "institution_name", "settlement_no", "visit_type", "discharge_date", "policy_scope_cost"]
    list_filter = ["visit_type", "designated"]
    search_fields = ["application__number", "settlement_no", "institution_name"]
    raw_id_fields = ["application", "person", "added_by"]


@admin.register(CountedBill)
class CountedBillAdmin(admin.ModelAdmin):
    list_display = ["application", "person", "settlement_no", "institution_name", "discharge_date", "burden", "counted", "reason"]
    list_filter = ["counted", "visit_type"]
    search_fields = ["application__number", "settlement_no"]
    raw_id_fields = ["application", "person", "bill", "extra_bill"]


@admin.register(ApplicationTransition)
class ApplicationTransitionAdmin(admin.ModelAdmin):
    list_display = ["application", "from_status", "to_status", "by", "at"]
    list_filter = ["to_status"]
    search_fields = ["application__number"]
    raw_id_fields = ["application", "by"]
