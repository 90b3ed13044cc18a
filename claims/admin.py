"""Admin: read-mostly views of claims data. Writes go through the screens (services), so the
workflow, four-eyes rule and ledger lock cannot be bypassed here."""
from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import (
    Bill,
    Claim,
    ClaimTransition,
    Correction,
    LedgerBucket,
    LedgerDraw,
    LedgerRepair,
    PayeeAccount,
    PaymentAdjustment,
    PaymentBatch,
    PersonYearLedger,
    Recovery,
    SettlementImport,
    SettlementRecord,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.display(description=_("身份证号"))
def masked_id(obj):
    person = obj.person
    return person.masked_id_number


@admin.register(Bill)
class BillAdmin(ReadOnlyAdmin):
    list_display = ("settlement_no", "institution", "person_name", masked_id, "visit_type", "discharge_date", "status",
                    "total_assistance", "hospital_assistance_paid")
    list_filter = ("status", "source", "visit_type", "district")
    search_fields = ("settlement_no",)
    list_select_related = ("institution", "person")
    show_full_result_count = False
    raw_id_fields = ("person", "claim", "institution", "policy")

    @admin.display(description=_("姓名"))
    def person_name(self, obj):
        return obj.person.name


class TransitionInline(admin.TabularInline):
    model = ClaimTransition
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "by", "at", "note")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    list_display = ("id", "person_name", masked_id, "district", "status", "applied_on", "approved_amount")
    list_filter = ("status", "district")
    list_select_related = ("person", "district")
    inlines = [TransitionInline]
    raw_id_fields = ("person",)

    @admin.display(description=_("姓名"))
    def person_name(self, obj):
        return obj.person.name


@admin.register(PaymentBatch)
class PaymentBatchAdmin(ReadOnlyAdmin):
    list_display = ("number", "district", "status", "total_amount", "reference", "paid_at")
    list_filter = ("status", "district")


class BucketInline(admin.TabularInline):
    model = LedgerBucket
    extra = 0
    can_delete = False
    readonly_fields = ("bucket", "cap", "used", "clause")

    def has_add_permission(self, request, obj=None):
        return False


class DrawInline(admin.TabularInline):
    model = LedgerDraw
    extra = 0
    can_delete = False
    readonly_fields = ("bucket", "cap", "amount", "source", "source_ref", "clause", "created_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PersonYearLedger)
class LedgerAdmin(ReadOnlyAdmin):
    list_display = ("person", "year", "total_assistance", "deductible_used", "tilted_base", "bills_counted", "updated_at")
    list_filter = ("year",)
    inlines = [BucketInline, DrawInline]
    raw_id_fields = ("person",)
    show_full_result_count = False
    actions = ["repair_ledgers"]

    @admin.action(description=_("修复年度累计（从结算单重建，记录原因）"))
    def repair_ledgers(self, request, queryset):
        """The explicit, logged repair of damaged ledgers (claims.services.ledger_repair): only
        ledgers that do not add up are rebuilt; each repair is recorded with its before/after."""
        from . import services

        if not request.user.is_superuser:
            self.message_user(request, _("只有系统管理员可以修复年度累计。"), level="error")
            return
        repaired = 0
        for ledger in queryset:
            if services.ledger_damage(person_id=ledger.person_id, years=[ledger.year]):
                services.ledger_repair(person_id=ledger.person_id, year=ledger.year, by=request.user,
                                       reason=_("管理后台修复（%(user)s）") % {"user": request.user.get_username()})
                repaired += 1
        self.message_user(request, _("已修复 %(n)s 个年度累计；其余与结算单一致，未改动。") % {"n": repaired})


@admin.register(Correction)
class CorrectionAdmin(ReadOnlyAdmin):
    list_display = ("claim", "status", "granted_before", "granted_after", "proposed_by", "proposed_at", "reviewed_by")
    list_filter = ("status",)
    raw_id_fields = ("claim",)


@admin.register(LedgerRepair)
class LedgerRepairAdmin(ReadOnlyAdmin):
    list_display = ("ledger", "by", "at", "reason")
    raw_id_fields = ("ledger",)


@admin.register(PaymentAdjustment)
class PaymentAdjustmentAdmin(ReadOnlyAdmin):
    list_display = ("bill", "kind", "amount", "paid_amount", "computed_amount", "status", "created_at")
    list_filter = ("status", "kind")
    raw_id_fields = ("bill",)


@admin.register(SettlementImport)
class SettlementImportAdmin(ReadOnlyAdmin):
    list_display = ("original_name", "status", "created", "unchanged", "rejected", "differences", "uploaded_by", "created_at")
    list_filter = ("status",)


@admin.register(PayeeAccount)
class PayeeAccountAdmin(admin.ModelAdmin):
    """收款账户: shown masked; recorded through claims.payments.payee_account_record."""

    list_display = ("person", "kind", "account_name", "masked_number", "bank_name", "active", "created_at")
    list_filter = ("kind", "active")
    search_fields = ("person__name", "account_name")
    raw_id_fields = ("person",)
    fields = ("person", "kind", "account_name", "account_number", "bank_name")

    @admin.display(description=_("账号/卡号"))
    def masked_number(self, obj):
        from .payments import mask_account

        return mask_account(obj.account_number)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        from .payments import payee_account_record

        account = payee_account_record(person=obj.person, account_name=obj.account_name,
                                       account_number=obj.account_number, kind=obj.kind, bank_name=obj.bank_name,
                                       by=request.user)
        obj.pk = account.pk


@admin.register(SettlementRecord)
class SettlementRecordAdmin(admin.ModelAdmin):
    list_display = ("setl_id", "origin", "status", "insutype", "med_type", "reserved_amount", "created_at")
    list_filter = ("origin", "status", "insutype", "med_type")
    search_fields = ("setl_id", "mdtrt_id")
    raw_id_fields = ("bill",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Recovery)
class RecoveryAdmin(admin.ModelAdmin):
    list_display = ("adjustment", "method", "amount", "reference", "offset_claim", "received_on", "closed_by")
    list_filter = ("method",)

    def has_add_permission(self, request):
        return False  # recorded on the differences screen (claims.payments.recovery_close)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
