"""Bills (one-stop settlement records and manually claimed bills) and what was computed on them."""
from __future__ import annotations

import os
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Person
from organizations.fieldcrypto import BlindIndexField, EncryptedCharField
from organizations.filecrypto import EncryptedFileSystemStorage
from organizations.models import District, Institution
from policies.models import Policy

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


class VisitType(models.TextChoices):
    OUTPATIENT = "outpatient", _("普通门诊")
    OUTPATIENT_SPECIAL = "outpatient_special", _("门诊慢特病")
    INPATIENT = "inpatient", _("住院")
    MATERNITY = "maternity", _("分娩")
    REHABILITATION = "rehabilitation", _("康复")


class BillSource(models.TextChoices):
    ONE_STOP = "one_stop", _("一站式结算")
    MANUAL = "manual", _("手工报销")


class ClaimStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("待审核")
    RETURNED = "returned", _("退回补正")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("不予救助")
    PAID = "paid", _("已支付")


class BillStatus(models.TextChoices):
    """Where a bill stands; one-stop bills are recorded, manual ones mirror their claim's status."""

    RECORDED = "recorded", _("一站式已记录")
    HOSPITAL_PAID = "hospital_paid", _("医院已结算")
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("待审核")
    RETURNED = "returned", _("退回补正")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("不予救助")
    PAID = "paid", _("已支付")


STATUS_BADGES = {
    "approved": "text-bg-success", "paid": "text-bg-success", "hospital_paid": "text-bg-success",
    "rejected": "text-bg-danger", "submitted": "text-bg-primary", "returned": "text-bg-warning",
}

# Which statuses count for what (caps, granted, paid, relief, warnings, reports) is defined once,
# in ``claims.money`` (docs/money.md).


class RejectionReason(models.TextChoices):
    NOT_BENEFICIARY = "not_beneficiary", _("不属于医疗救助对象或不在身份有效期内")
    NON_DESIGNATED = "non_designated", _("非定点医药机构就医")
    UNREFERRED = "unreferred", _("未按规定办理转诊")
    NOT_COVERED = "not_covered", _("费用不在救助范围内")
    DUPLICATE = "duplicate", _("重复申请")
    DOCUMENTS = "documents", _("材料不全或不真实")
    CAP_EXHAUSTED = "cap_exhausted", _("年度救助限额已用完")
    OTHER = "other", _("其他")


class PaymentBatch(models.Model):
    """A batch of approved claims paid together (支付批次), marked paid with the bank reference."""

    class Status(models.TextChoices):
        OPEN = "open", _("待支付")
        PAID = "paid", _("已支付")

    number = models.CharField(_("批次号"), max_length=40, unique=True)
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="payment_batches", verbose_name=_("经办区县"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)
    total_amount = models.DecimalField(_("合计金额"), **MONEY, default=ZERO)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("创建人"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    reference = models.CharField(_("支付凭证号"), max_length=100, blank=True)
    paid_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("支付确认人"))
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("支付批次")
        verbose_name_plural = _("支付批次")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number


class Claim(models.Model):
    """A manual reimbursement application (先垫付后报销) with its bills."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="claims", verbose_name=_("申请人"))
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="claims", verbose_name=_("经办区县"))
    status = models.CharField(_("状态"), max_length=20, choices=ClaimStatus.choices, default=ClaimStatus.DRAFT)
    applied_on = models.DateField(_("申请日期"))
    payee_account = models.CharField(_("收款账户"), max_length=100, blank=True, help_text=_("支付方式：银行账户"))
    note = models.TextField(_("备注"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("提交人"))
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("审核人"))
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    decision_reason = models.CharField(_("不予救助原因"), max_length=30, choices=RejectionReason.choices, blank=True)
    decision_note = models.TextField(_("审核意见"), blank=True)
    approved_amount = models.DecimalField(_("核定救助金额"), **MONEY, null=True, blank=True)
    payment_batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="claims", verbose_name=_("支付批次"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("报销申请")
        verbose_name_plural = _("报销申请")
        ordering = ["-created_at", "-id"]
        indexes = [
            # the list's keyset pages (organizations.listing.keyset_page) walk (field, id) in either
            # direction (a backward scan serves -field, -id), city-wide and within a district; the
            # default order (-id) is the primary key. (district, status, id) and (status, id) also
            # serve "status = S newest first" (the work queues), as the (…, -id) ones they replaced did.
            models.Index(fields=["district", "status", "id"], name="claim_district_status"),
            models.Index(fields=["status", "id"], name="claim_status_keyset"),
            models.Index(fields=["applied_on", "id"], name="claim_applied_keyset"),
            models.Index(fields=["district", "id"], name="claim_district_keyset"),
            models.Index(fields=["district", "applied_on", "id"], name="claim_district_applied"),
        ]

    def __str__(self) -> str:
        return _("报销申请 #%(pk)s") % {"pk": self.pk}

    @property
    def badge_class(self) -> str:
        return STATUS_BADGES.get(self.status, "text-bg-secondary")

    @property
    def number(self) -> str:
        return f"BX{self.applied_on:%Y}-{self.pk:06d}" if self.pk else ""


class ClaimTransition(models.Model):
    """Every state change of a claim: who, when, from, to, note. Never edited or deleted."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="transitions", verbose_name=_("申请"))
    from_status = models.CharField(_("原状态"), max_length=20, choices=ClaimStatus.choices, blank=True)
    to_status = models.CharField(_("新状态"), max_length=20, choices=ClaimStatus.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作人"))
    at = models.DateTimeField(_("时间"), auto_now_add=True)
    note = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("流转记录")
        verbose_name_plural = _("流转记录")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.claim_id}: {self.from_status} → {self.to_status}"


def paid_of(status: str, hospital_assistance_paid: Decimal | None, paid_amount: Decimal | None) -> Decimal | None:
    """``Bill.paid`` from its columns (the bulk recomputation reads rows, not instances)."""
    if status == BillStatus.HOSPITAL_PAID:
        return hospital_assistance_paid
    if status == BillStatus.PAID:
        return paid_amount
    return None


class Bill(models.Model):
    """One settled medical bill (结算单). The engine computes assistance per bill."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="bills", verbose_name=_("人员"))
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="bills", verbose_name=_("经办区县"))
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="bills", verbose_name=_("定点医药机构"))
    settlement_no = models.CharField(_("结算单号"), max_length=50)
    source = models.CharField(_("来源"), max_length=20, choices=BillSource.choices, default=BillSource.ONE_STOP)
    visit_type = models.CharField(_("就诊类型"), max_length=20, choices=VisitType.choices)
    admission_date = models.DateField(_("入院/就诊日期"))
    discharge_date = models.DateField(_("出院/结算日期"))
    diagnosis_code = models.CharField(_("诊断编码(ICD-10)"), max_length=20, blank=True)
    diagnosis_name = models.CharField(_("诊断名称"), max_length=100, blank=True)
    major_disease = models.BooleanField(_("重特大疾病"), default=False)
    rare_disease = models.BooleanField(_("罕见病"), default=False)
    good_samaritan_injury = models.BooleanField(_("见义勇为致伤"), default=False)
    referral_compliant = models.BooleanField(_("按规定转诊"), default=True)
    in_province = models.BooleanField(_("省内就医"), default=True)
    total_cost = models.DecimalField(_("医疗总费用"), **MONEY)
    policy_scope_cost = models.DecimalField(_("政策范围内费用"), **MONEY)
    basic_paid = models.DecimalField(_("基本医保支付"), **MONEY, default=ZERO)
    critical_paid = models.DecimalField(_("大病保险支付"), **MONEY, default=ZERO)
    other_paid = models.DecimalField(_("其他支付"), **MONEY, default=ZERO)
    hospital_assistance_paid = models.DecimalField(
        _("医院已结算救助金额"), **MONEY, null=True, blank=True, help_text=_("一站式结算时医院已支付的医疗救助"),
    )
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, null=True, blank=True, related_name="bills", verbose_name=_("报销申请"), help_text=_("一站式结算单为空"))
    status = models.CharField(_("状态"), max_length=20, choices=BillStatus.choices, default=BillStatus.RECORDED)
    paid_amount = models.DecimalField(_("已支付救助金额"), **MONEY, null=True, blank=True, help_text=_("手工报销支付时的金额（支付后不再改变）"))
    category = models.CharField(_("适用类别"), max_length=40, blank=True, help_text=_("计算时采用的救助对象类别"))
    # The decision on a claim's bill (claims.money.bill_granted): set at approval, changed only by
    # an approved correction decision (Correction). None for one-stop bills (granted = computed),
    # except where the recalculation capped a raise by the room relief on application left
    # (京 六(三), claims.recalc.ReliefFit; the computation's ``relief_cap`` says why).
    granted_amount = models.DecimalField(_("核定救助金额"), **MONEY, null=True, blank=True,
                                         help_text=_("批准时核定，仅经更正决定改变"))
    # When the bill's figure was decided and entered the ledger (a claim's approval). The year is
    # computed in decision order (claims.recalc.decision_key): one-stop bills at their settlement
    # date, claim bills at their approval, so a later approval only ever gets the room left.
    counted_at = models.DateTimeField(_("核定时间"), null=True, blank=True)
    # What the engine computed (kept current by claims services and the nightly run).
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, null=True, blank=True, related_name="bills", verbose_name=_("适用政策"))
    assistance = models.DecimalField(_("医疗救助"), **MONEY, default=ZERO)
    tilted = models.DecimalField(_("倾斜救助"), **MONEY, default=ZERO)
    special = models.DecimalField(_("专项救助"), **MONEY, default=ZERO)
    total_assistance = models.DecimalField(_("救助合计"), **MONEY, default=ZERO)
    computation = models.JSONField(_("计算说明"), default=dict, blank=True)
    # BillResult.digest() of the result ``computation`` was written from (NO_POLICY_DIGEST when no
    # policy applied): the nightly run compares it instead of the whole explanation.
    computation_digest = models.CharField(_("计算摘要"), max_length=32, blank=True, default="", editable=False)
    computed_at = models.DateTimeField(_("计算时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)
    # Any change to what the engine reads (status, amounts, dates) bumps this; the figures the
    # engine writes do not (they are written with bulk UPDATEs). The nightly incremental run
    # recomputes the person-years of bills updated since the last run.
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("录入人"))

    class Meta:
        verbose_name = _("结算单")
        verbose_name_plural = _("结算单")
        ordering = ["-discharge_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "settlement_no"], name="uniq_bill_settlement_per_institution"),
            models.CheckConstraint(condition=Q(total_cost__gte=F("policy_scope_cost")), name="bill_total_ge_scope"),
            models.CheckConstraint(condition=Q(basic_paid__gte=0, critical_paid__gte=0, other_paid__gte=0, policy_scope_cost__gte=0), name="bill_amounts_non_negative"),
            models.CheckConstraint(condition=Q(discharge_date__gte=F("admission_date")), name="bill_discharge_after_admission"),
            models.CheckConstraint(condition=Q(policy_scope_cost__gte=F("basic_paid") + F("critical_paid")), name="bill_scope_ge_basic_critical"),
        ]
        # Lists are keyset-paged on (-discharge_date, -id); each common filter has an index that
        # yields rows already in that order, so a page reads ~50 index entries, not the table.
        indexes = [
            models.Index(fields=["person", "discharge_date"]),
            models.Index(fields=["district", "-discharge_date", "-id"]),
            models.Index(fields=["-discharge_date", "-id"], name="bill_keyset"),
            models.Index(fields=["district", "status", "-discharge_date", "-id"], name="bill_district_status"),
            models.Index(fields=["institution", "-discharge_date", "-id"], name="bill_institution"),
            models.Index(fields=["district", "category", "-discharge_date", "-id"], name="bill_district_category"),
        ]

    def __str__(self) -> str:
        return f"{self.settlement_no}（{self.person.name}）"

    @property
    def assistance_shown(self) -> Decimal:
        """The assistance figure a row shows (``claims.money.bill_shown``)."""
        from .money import bill_shown

        return bill_shown(self)

    @property
    def badge_class(self) -> str:
        return STATUS_BADGES.get(self.status, "text-bg-secondary")

    @property
    def paid(self) -> Decimal | None:
        """What was actually paid for this bill: at the hospital (one-stop) or by a paid claim."""
        return paid_of(self.status, self.hospital_assistance_paid, self.paid_amount)

    @property
    def burden(self) -> Decimal:
        """政策范围内个人负担 after basic, critical-illness and other payments (floored at 0)."""
        return max(ZERO, self.policy_scope_cost - self.basic_paid - self.critical_paid - self.other_paid)


class PersonYearLedger(models.Model):
    """年度累计: one row per person and calendar year; THE lock for computing that person-year.

    Services take ``select_for_update`` on this row before reading bills and recomputing, so two
    approvals for one person are serialised and can never both spend the same cap room.
    """

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="ledgers", verbose_name=_("人员"))
    year = models.PositiveSmallIntegerField(_("年度"))
    deductible_used = models.DecimalField(_("已计起付标准"), **MONEY, default=ZERO)
    tilted_base = models.DecimalField(_("倾斜救助累计个人负担"), **MONEY, default=ZERO)
    total_assistance = models.DecimalField(_("救助合计"), **MONEY, default=ZERO)
    bills_counted = models.PositiveIntegerField(_("计入结算单数"), default=0)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("年度累计")
        verbose_name_plural = _("年度累计")
        ordering = ["person", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["person", "year"], name="uniq_ledger_person_year"),
            models.CheckConstraint(condition=Q(deductible_used__gte=0, tilted_base__gte=0), name="ledger_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.year}"


class LedgerBucket(models.Model):
    """One annual cap bucket (年度救助限额) of a ledger: used never exceeds cap (the database says so)."""

    ledger = models.ForeignKey(PersonYearLedger, on_delete=models.CASCADE, related_name="buckets", verbose_name=_("年度累计"))
    bucket = models.CharField(_("限额项目"), max_length=40)
    cap = models.DecimalField(_("限额"), **MONEY, null=True, blank=True, help_text=_("空表示不设限额"))
    used = models.DecimalField(_("已使用"), **MONEY, default=ZERO)
    clause = models.CharField(_("条款"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("限额使用")
        verbose_name_plural = _("限额使用")
        ordering = ["ledger", "bucket"]
        constraints = [
            models.UniqueConstraint(fields=["ledger", "bucket"], name="uniq_ledger_bucket"),
            models.CheckConstraint(condition=Q(used__gte=0), name="ledger_bucket_used_non_negative"),
            models.CheckConstraint(condition=Q(cap__isnull=True) | Q(used__lte=F("cap")), name="ledger_bucket_used_le_cap"),
        ]

    def __str__(self) -> str:
        return f"{self.bucket}: {self.used}/{self.cap}"

    @property
    def room(self) -> Decimal | None:
        return None if self.cap is None else self.cap - self.used


class LedgerDraw(models.Model):
    """Assistance paid outside the bills that draws on a person-year's bucket (Ningbo 三(二)1: relief
    on application "within the annual 80,000 bucket of the decision year").

    Recomputations start the year with these draws already taken (``YearState.bucket_used``), so
    bills settled later get only the room that is left, and the ledger's ``used`` includes them.
    Paid relief is never changed by a recomputation. Written by :func:`claims.services.ledger_draw_record`
    under the ledger lock; one per source record.
    """

    class Source(models.TextChoices):
        APPLICATION = "application", _("依申请救助")

    ledger = models.ForeignKey(PersonYearLedger, on_delete=models.PROTECT, related_name="draws", verbose_name=_("年度累计"))
    bucket = models.CharField(_("限额项目"), max_length=40)
    cap = models.DecimalField(_("限额"), **MONEY, null=True, blank=True, help_text=_("空表示不设限额"))
    amount = models.DecimalField(_("金额"), **MONEY)
    clause = models.CharField(_("条款"), max_length=200, blank=True)
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices)
    source_ref = models.PositiveIntegerField(_("来源记录"))
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("限额占用")
        verbose_name_plural = _("限额占用")
        ordering = ["ledger", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_ref"], name="uniq_ledger_draw_source"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_draw_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.source_ref}: {self.bucket} {self.amount}"


class AdjustmentKind(models.TextChoices):
    SUPPLEMENTARY = "supplementary", _("补发")
    OVERPAYMENT = "overpayment", _("多付待核")
    RECOVERY = "recovery", _("追回")


class PaymentAdjustment(models.Model):
    """A paid bill whose recomputed figure differs from what was paid: never change the payment,
    record the difference for review (补发 / 多付待核)."""

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        RESOLVED = "resolved", _("已处理")
        SUPERSEDED = "superseded", _("已被新计算取代")

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="adjustments", verbose_name=_("结算单"))
    kind = models.CharField(_("类型"), max_length=20, choices=AdjustmentKind.choices)
    amount = models.DecimalField(_("金额"), **MONEY, help_text=_("正数：补发或多付的金额"))
    paid_amount = models.DecimalField(_("已支付"), **MONEY)
    computed_amount = models.DecimalField(_("重新计算"), **MONEY)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("处理人"))
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    note = models.TextField(_("处理说明"), blank=True)
    correction = models.ForeignKey("Correction", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="adjustments", verbose_name=_("更正决定"),
                                   help_text=_("由更正决定产生的补发或追回"))

    class Meta:
        verbose_name = _("支付差额")
        verbose_name_plural = _("支付差额")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="adjustment_amount_positive"),
            models.UniqueConstraint(fields=["bill"], condition=Q(status="open"), name="uniq_open_adjustment_per_bill"),
        ]
        indexes = [models.Index(fields=["status", "-id"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class Correction(models.Model):
    """A correction decision (更正决定) on a granted claim: the figure found later (a retroactive
    certification, a corrected bill, a new policy version or statistic) differs from the grant.

    Proposed by the recalculation (``proposed_by`` empty) or by a caseworker; a reviewer who is
    not the proposer approves it (:func:`claims.services.correction_approve`): the grant changes,
    a correction letter is issued and, for a paid claim, a payment adjustment (补发 / 追回) per
    bill is opened. Until then the grant stands. At most one proposed correction per claim.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("待复核")
        APPROVED = "approved", _("已更正")
        SUPERSEDED = "superseded", _("已被新计算取代")

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="corrections", verbose_name=_("报销申请"))
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.PROPOSED)
    granted_before = models.DecimalField(_("原核定金额"), **MONEY)
    granted_after = models.DecimalField(_("更正后金额"), **MONEY)
    bills = models.JSONField(_("结算单明细"), default=list, blank=True,
                             help_text=_("[{bill_id, before, after}]"))
    reason = models.TextField(_("更正原因"), blank=True)
    proposed_at = models.DateTimeField(_("提出时间"), auto_now_add=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("提出人"), help_text=_("空：重新计算时提出"))
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("复核人"))
    reviewed_at = models.DateTimeField(_("复核时间"), null=True, blank=True)
    note = models.TextField(_("复核意见"), blank=True)

    class Meta:
        verbose_name = _("更正决定")
        verbose_name_plural = _("更正决定")
        ordering = ["-proposed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["claim"], condition=Q(status="proposed"), name="uniq_proposed_correction_per_claim"),
            models.CheckConstraint(condition=Q(granted_before__gte=0, granted_after__gte=0), name="correction_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id}: {self.granted_before} → {self.granted_after}"

    @property
    def difference(self) -> Decimal:
        """Positive: 补发 (more is due); negative: 追回 (less was due)."""
        return self.granted_after - self.granted_before


class LedgerRepair(models.Model):
    """An explicit, logged repair of a damaged person-year ledger (never done silently)."""

    ledger = models.ForeignKey(PersonYearLedger, on_delete=models.PROTECT, related_name="repairs", verbose_name=_("年度累计"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                           verbose_name=_("操作人"))
    at = models.DateTimeField(_("时间"), auto_now_add=True)
    reason = models.TextField(_("原因"))
    violations = models.JSONField(_("发现的问题"), default=list, blank=True)
    before = models.JSONField(_("修复前"), default=dict, blank=True)
    after = models.JSONField(_("修复后"), default=dict, blank=True)

    class Meta:
        verbose_name = _("年度累计修复")
        verbose_name_plural = _("年度累计修复")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.ledger_id} {self.at:%Y-%m-%d}"


class SettlementImport(models.Model):
    """An uploaded settlement file: previewed (dry run), then applied by a Celery task."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("已上传")
        PREVIEWING = "previewing", _("校验中")
        PREVIEWED = "previewed", _("待确认")
        APPLYING = "applying", _("导入中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")
        CANCELLED = "cancelled", _("已取消")

    file = models.FileField(_("文件"), upload_to="settlement_imports/%Y/%m/")
    original_name = models.CharField(_("文件名"), max_length=200)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已处理行数"), default=0)
    created = models.PositiveIntegerField(_("新增"), default=0)
    unchanged = models.PositiveIntegerField(_("未变化"), default=0)
    rejected = models.PositiveIntegerField(_("拒绝"), default=0)
    differences = models.PositiveIntegerField(_("差额"), default=0)
    errors = models.JSONField(_("错误行"), default=list, blank=True)
    # Rows for people not yet registered (POLICY.md §9): kept, the person registered as a
    # non-beneficiary; a note per row, not an error.
    unregistered = models.PositiveIntegerField(_("未登记人员的行"), default=0)
    notes = models.JSONField(_("提示行"), default=list, blank=True)
    message = models.TextField(_("信息"), blank=True)
    # The user confirmed applying the good rows of a file with rejected rows (never implied).
    apply_good_rows = models.BooleanField(_("仅导入正确行"), default=False)
    cancel_requested = models.BooleanField(_("已请求取消"), default=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人"))
    district = models.ForeignKey(District, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("经办区县"), help_text=_("上传人所在区县；空为市级"))
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("结算数据导入")
        verbose_name_plural = _("结算数据导入")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.original_name


class SettlementRecord(models.Model):
    """The national platform's settlement record (结算信息 setlinfo) behind a one-stop bill.

    The bill holds what the engine reads (its ``settlement_no`` is ``setl_id``, ``basic_paid``
    hifp_pay, ``critical_paid`` hifmi_pay, ``other_paid`` the other funds, and
    ``hospital_assistance_paid`` maf_pay: the assistance the hospital already advanced); this row
    keeps the platform's own fields as they came, from a file or from a hospital through the API.
    A settlement posted through the API is *reserved* (its assistance counts on the person-year
    ledger at once); cancelling it (冲正) takes it off the ledger and keeps this row as evidence.
    """

    class Origin(models.TextChoices):
        FILE = "file", _("文件导入")
        API = "api", _("接口上传")

    class Status(models.TextChoices):
        ACTIVE = "active", _("有效")
        CANCELLED = "cancelled", _("已冲正")

    bill = models.OneToOneField(Bill, on_delete=models.PROTECT, related_name="platform_record", verbose_name=_("结算单"))
    origin = models.CharField(_("来源"), max_length=10, choices=Origin.choices, default=Origin.FILE)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    setl_id = models.CharField(_("结算ID"), max_length=50)
    mdtrt_id = models.CharField(_("就诊ID"), max_length=50, blank=True)
    psn_no = models.CharField(_("人员编号"), max_length=50, blank=True)
    insutype = models.CharField(_("险种类型"), max_length=10, blank=True)
    psn_type = models.CharField(_("人员类别"), max_length=10, blank=True)
    med_type = models.CharField(_("医疗类别"), max_length=10, blank=True)
    setl_time = models.DateTimeField(_("结算时间"), null=True, blank=True)
    fixmedins_name = models.CharField(_("定点医药机构名称"), max_length=200, blank=True)
    cvlserv_pay = models.DecimalField(_("公务员医疗补助资金支出"), **MONEY, default=ZERO)
    hifes_pay = models.DecimalField(_("企业补充医疗保险基金支出"), **MONEY, default=ZERO)
    hifob_pay = models.DecimalField(_("职工大额医疗费用补助基金支出"), **MONEY, default=ZERO)
    oth_pay = models.DecimalField(_("其他支出"), **MONEY, default=ZERO)
    psn_part_amt = models.DecimalField(_("个人负担总金额"), **MONEY, null=True, blank=True)
    hosp_part_amt = models.DecimalField(_("医院负担金额"), **MONEY, null=True, blank=True)
    reserved_amount = models.DecimalField(_("预留救助金额"), **MONEY, null=True, blank=True,
                                          help_text=_("接口上传时计算并计入年度累计的救助金额"))
    api_client = models.ForeignKey("api.ApiClient", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name=_("接口客户端"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    cancelled_at = models.DateTimeField(_("冲正时间"), null=True, blank=True)
    cancel_reason = models.CharField(_("冲正原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("平台结算记录")
        verbose_name_plural = _("平台结算记录")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.setl_id


class PayeeAccount(models.Model):
    """收款账户: a person's bank account or social-security card (一卡通) that payment files pay to.

    One active account per person; recording a new one ends the previous (kept, never deleted).
    Screens show it masked (:func:`claims.payments.mask_account`); the full number leaves the
    system only in a payment batch file, whose download is logged per person.
    """

    class Kind(models.TextChoices):
        BANK = "bank", _("银行账户")
        CARD = "card", _("社会保障卡（一卡通）")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="payee_accounts", verbose_name=_("人员"))
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices, default=Kind.BANK)
    account_name = models.CharField(_("户名"), max_length=50)
    account_number = EncryptedCharField(_("账号/卡号"), plain_max_length=40, hash_field="account_number_hash")
    account_number_hash = BlindIndexField(_("账号密文索引"), source="account_number", db_index=True)
    bank_name = models.CharField(_("开户行"), max_length=100, blank=True)
    active = models.BooleanField(_("有效"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("登记人"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    ended_at = models.DateTimeField(_("停用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("收款账户")
        verbose_name_plural = _("收款账户")
        ordering = ["person", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["person"], condition=Q(active=True), name="uniq_active_payee_account"),
        ]

    def __str__(self) -> str:
        from .payments import mask_account

        return f"{self.account_name} {mask_account(self.account_number)}"


class AttachmentStorage(EncryptedFileSystemStorage):
    """Files under ``settings.ATTACHMENTS_ROOT`` (read each time, so tests can move it), outside
    MEDIA_ROOT and with no URL: nothing serves them but the scoped view. Encrypted at rest like
    every stored file (organizations.filecrypto)."""

    @property
    def base_location(self):  # type: ignore[override]
        return str(settings.ATTACHMENTS_ROOT)

    @property
    def location(self):  # type: ignore[override]
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):  # type: ignore[override]
        return None

    def url(self, name):
        raise ValueError("claim attachments have no URL; use claims:attachment")


def attachment_storage():
    return AttachmentStorage()


def attachment_path(instance: ClaimAttachment, filename: str) -> str:
    import secrets

    extension = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}.get(instance.content_type, "bin")
    return f"claims/{instance.claim_id}/{secrets.token_hex(12)}.{extension}"


class AttachmentKind(models.TextChoices):
    DISCHARGE_SUMMARY = "discharge_summary", _("出院小结")
    INVOICE = "invoice", _("医疗费用票据")
    ITEMISED = "itemised", _("费用明细清单")
    DIAGNOSIS = "diagnosis", _("诊断证明")
    OTHER = "other", _("其他材料")


class ClaimAttachment(models.Model):
    """A paper attached to a claim (PDF/JPG/PNG, type checked by content, size-limited), stored
    outside the web root under a random name; the original name is kept here."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="attachments", verbose_name=_("报销申请"))
    kind = models.CharField(_("材料类型"), max_length=20, choices=AttachmentKind.choices, default=AttachmentKind.OTHER)
    file = models.FileField(_("文件"), storage=attachment_storage, upload_to=attachment_path, max_length=300)
    original_name = models.CharField(_("原文件名"), max_length=200)
    content_type = models.CharField(_("文件类型"), max_length=40)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人"))
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("申请材料")
        verbose_name_plural = _("申请材料")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name}"


class Recovery(models.Model):
    """追回: how an overpayment found by recalculation (PaymentAdjustment of kind 多付待核) was
    closed — a recorded repayment (receipt) or an offset against a later payment to the same
    person. Closing one resolves its adjustment; the record is never edited or deleted."""

    class Method(models.TextChoices):
        REPAYMENT = "repayment", _("退回（缴款）")
        OFFSET = "offset", _("抵扣后续支付")

    adjustment = models.OneToOneField(PaymentAdjustment, on_delete=models.PROTECT, related_name="recovery",
                                      verbose_name=_("支付差额"))
    method = models.CharField(_("追回方式"), max_length=20, choices=Method.choices)
    amount = models.DecimalField(_("追回金额"), **MONEY)
    reference = models.CharField(_("缴款凭证号"), max_length=100, blank=True)
    offset_claim = models.ForeignKey(Claim, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                     verbose_name=_("抵扣的报销申请"))
    received_on = models.DateField(_("追回日期"))
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("处理人"))
    closed_at = models.DateTimeField(_("处理时间"), auto_now_add=True)
    note = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("追回记录")
        verbose_name_plural = _("追回记录")
        ordering = ["-closed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="recovery_amount_positive"),
            models.CheckConstraint(condition=Q(method="repayment", offset_claim__isnull=True) & ~Q(reference="")
                                   | Q(method="offset", offset_claim__isnull=False), name="recovery_evidence"),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.amount}"
