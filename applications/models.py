"""Relief on application (依申请救助, POLICY.md §4): applications, their workflow and evidence.

An application is made for a household by (or for) its seriously ill member. Civil affairs assesses
the household's economic situation (家庭经济状况核对) and certifies ``illness_poverty_patient``;
medical security gathers the household's bills of the counted period, the engine computes the
relief, and a second person decides. Every state change is an :class:`ApplicationTransition`.
Nothing here is deleted: a refused or rejected application stays with its reason.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import FileExtensionValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Certification, Household, Person
from claims.models import Bill, PaymentBatch, VisitType
from organizations.models import District
from policies.models import Policy

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


class Channel(models.TextChoices):
    WINDOW = "window", _("窗口申请")
    COMMUNITY_PROXY = "community_proxy", _("社区委托代办")
    WARNING_REFERRAL = "warning_referral", _("预警转介")


class Status(models.TextChoices):
    """The workflow; each state is a work item in one role's queue."""

    RECEIVED = "received", _("已受理")  # caseworker: send to civil affairs
    ASSESSING = "assessing", _("家庭经济状况核对中")  # civil-affairs certifier: assess
    GATHERING = "gathering", _("费用归集")  # caseworker: gather bills, compute
    REVIEWING = "reviewing", _("待审核决定")  # reviewer: approve or reject
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("不予救助")


OPEN_STATUSES = (Status.RECEIVED, Status.ASSESSING, Status.GATHERING, Status.REVIEWING)


class Application(models.Model):
    """依申请救助申请: one per household per calendar year where the policy says so."""

    number = models.CharField(_("申请编号"), max_length=40, unique=True, blank=True)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="relief_applications", verbose_name=_("家庭"))
    applicant = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="relief_applications", verbose_name=_("申请人（患者）"),
        help_text=_("家庭中的重病患者"),
    )
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="relief_applications", verbose_name=_("受理区县"))
    received_on = models.DateField(_("受理日期"))
    year = models.PositiveSmallIntegerField(_("申请年度"), help_text=_("受理日期所在自然年度"))
    channel = models.CharField(_("申请渠道"), max_length=20, choices=Channel.choices, default=Channel.WINDOW)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    proxy_name = models.CharField(_("代办人"), max_length=50, blank=True, help_text=_("社区委托代办时填写"))
    note = models.TextField(_("备注"), blank=True)
    warning_id = models.BigIntegerField(_("来源预警"), null=True, blank=True, db_index=True,
                                        help_text=_("由预警转介时的预警编号"))
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.RECEIVED)
    # Counted period (set when the bills are gathered, from the policy's scheme).
    period_start = models.DateField(_("计入期间起"), null=True, blank=True)
    period_end = models.DateField(_("计入期间止"), null=True, blank=True)
    # What the engine computed.
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("适用政策"))
    burden = models.DecimalField(_("计入的个人负担"), **MONEY, null=True, blank=True)
    relief = models.DecimalField(_("救助金额"), **MONEY, null=True, blank=True)
    computation = models.JSONField(_("计算说明"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("计算时间"), null=True, blank=True)
    computed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("计算人"))
    # Decision.
    decided_at = models.DateTimeField(_("决定时间"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("审核人"))
    decision_reason = models.TextField(_("不予救助理由"), blank=True)
    payment_route = models.CharField(_("支付方式"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("受理人"))

    class Meta:
        verbose_name = _("依申请救助申请")
        verbose_name_plural = _("依申请救助申请")
        ordering = ["-received_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(relief__isnull=True) | Q(relief__gte=0), name="application_relief_non_negative"),
            models.CheckConstraint(condition=Q(period_end__isnull=True) | Q(period_end__gte=F("period_start")),
                                   name="application_period_ordered"),
        ]
        indexes = [
            models.Index(fields=["household", "year"]),
            models.Index(fields=["district", "status", "received_on"]),
            # the list pages walk this in order and stop after a page (no sort of the district)
            models.Index(fields=["district", "received_on", "id"], name="application_district_list_idx"),
            # city-wide, the keyset pages (organizations.listing.keyset_page) walk this
            models.Index(fields=["received_on", "id"], name="application_keyset"),
        ]

    def __str__(self) -> str:
        return self.number or _("申请#%(pk)s") % {"pk": self.pk}

    @property
    def days_since_received(self) -> int:
        return (timezone.localdate() - self.received_on).days

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ReliefPayment(models.Model):
    """An approved relief on application in a payment batch (支付批次), paid with the batch like a
    claim. One row per application at most (unique): a relief already in a batch cannot enter
    another. ``amount`` is the relief granted when it was batched; ``paid_amount`` is frozen when
    the batch is marked paid (what left the fund; read through ``claims.money``)."""

    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="relief_payment",
                                       verbose_name=_("依申请救助申请"))
    batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, related_name="reliefs", verbose_name=_("支付批次"))
    amount = models.DecimalField(_("救助金额"), **MONEY)
    paid_amount = models.DecimalField(_("已支付金额"), **MONEY, null=True, blank=True)
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("依申请救助支付")
        verbose_name_plural = _("依申请救助支付")
        ordering = ["batch_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="relief_payment_amount_positive"),
            models.CheckConstraint(condition=Q(paid_amount__isnull=True) | Q(paid_amount__gte=0),
                                   name="relief_payment_paid_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.batch} {self.application}"


class ApplicationTransition(models.Model):
    """Who moved the application from which state to which, when, and why."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="transitions", verbose_name=_("申请"))
    from_status = models.CharField(_("原状态"), max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(_("新状态"), max_length=20, choices=Status.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作人"))
    at = models.DateTimeField(_("时间"), default=timezone.now)
    note = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("申请流转记录")
        verbose_name_plural = _("申请流转记录")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.application} {self.from_status}→{self.to_status}"


class DocumentKind(models.TextChoices):
    ID_CARD = "id_card", _("身份证明")
    MEDICAL_RECORD = "medical_record", _("病历、诊断证明")
    RECEIPT = "receipt", _("费用票据")
    INCOME = "income", _("收入、财产证明")
    AUTHORIZATION = "authorization", _("委托书")
    OTHER = "other", _("其他")


# Scans and photos of papers; nothing executable or renderable as a page is accepted.
PAPER_EXTENSIONS = ["pdf", "jpg", "jpeg", "png", "tif", "tiff"]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def document_path(instance: ApplicationDocument, filename: str) -> str:
    return f"applications/{instance.application_id}/{filename}"


def receipt_path(instance: ExtraBill, filename: str) -> str:
    return f"applications/{instance.application_id}/receipts/{filename}"


class ApplicationDocument(models.Model):
    """An attached paper (uploaded file on disk under MEDIA_ROOT; the database holds its path)."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="documents", verbose_name=_("申请"))
    kind = models.CharField(_("材料类型"), max_length=20, choices=DocumentKind.choices, default=DocumentKind.OTHER)
    file = models.FileField(_("文件"), upload_to=document_path, max_length=300,
                            validators=[FileExtensionValidator(PAPER_EXTENSIONS)])
    description = models.CharField(_("说明"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人"))
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("申请材料")
        verbose_name_plural = _("申请材料")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file.name}"


class AssessmentResult(models.TextChoices):
    CERTIFIED = "certified", _("认定为因病致贫重病患者")
    REFUSED = "refused", _("不予认定")


class HouseholdAssessment(models.Model):
    """家庭经济状况核对 by civil affairs: income, assets, members and the result."""

    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="assessment", verbose_name=_("申请"))
    annual_income = models.DecimalField(_("家庭年收入"), **MONEY)
    assets = models.DecimalField(_("家庭财产"), **MONEY)
    members_count = models.PositiveSmallIntegerField(_("家庭人口数"))
    result = models.CharField(_("核对结果"), max_length=20, choices=AssessmentResult.choices)
    reason = models.TextField(_("不予认定理由"), blank=True)
    document_ref = models.CharField(_("认定文号"), max_length=100, blank=True)
    certification = models.ForeignKey(Certification, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+", verbose_name=_("身份认定"))
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("核对人"))
    assessed_at = models.DateTimeField(_("核对时间"), default=timezone.now)

    class Meta:
        verbose_name = _("家庭经济状况核对")
        verbose_name_plural = _("家庭经济状况核对")
        constraints = [
            models.CheckConstraint(condition=Q(annual_income__gte=0, assets__gte=0), name="assessment_amounts_non_negative"),
            models.CheckConstraint(condition=Q(members_count__gte=1), name="assessment_members_at_least_one"),
            models.CheckConstraint(condition=~Q(result="refused") | ~Q(reason=""), name="assessment_refusal_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.application} {self.get_result_display()}"

    @property
    def per_capita_income(self) -> Decimal:
        return (self.annual_income / self.members_count).quantize(Decimal("0.01"))


class ExtraBill(models.Model):
    """A bill paid elsewhere (异地/手工), added by the caseworker with its receipt."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="extra_bills", verbose_name=_("申请"))
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("就医人"))
    institution_name = models.CharField(_("医疗机构"), max_length=100)
    designated = models.BooleanField(_("定点医疗机构"), default=True)
    settlement_no = models.CharField(_("票据号"), max_length=50)
    visit_type = models.CharField(_("就诊类型"), max_length=20, choices=VisitType.choices)
    admission_date = models.DateField(_("入院/就诊日期"))
    discharge_date = models.DateField(_("出院/结算日期"))
    total_cost = models.DecimalField(_("医疗总费用"), **MONEY)
    policy_scope_cost = models.DecimalField(_("政策范围内费用"), **MONEY)
    basic_paid = models.DecimalField(_("基本医保支付"), **MONEY, default=ZERO)
    critical_paid = models.DecimalField(_("大病保险支付"), **MONEY, default=ZERO)
    other_paid = models.DecimalField(_("商业保险等其他支付"), **MONEY, default=ZERO)
    assistance_paid = models.DecimalField(_("已获救助"), **MONEY, default=ZERO, help_text=_("各类救助已支付的金额"))
    receipt = models.FileField(_("票据"), upload_to=receipt_path, max_length=300,
                               validators=[FileExtensionValidator(PAPER_EXTENSIONS)])
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("录入人"))
    added_at = models.DateTimeField(_("录入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("外地或手工票据")
        verbose_name_plural = _("外地或手工票据")
        ordering = ["discharge_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "institution_name", "settlement_no"], name="uniq_extra_bill_per_application"),
            models.CheckConstraint(condition=Q(total_cost__gte=F("policy_scope_cost")), name="extra_bill_total_ge_scope"),
            models.CheckConstraint(
                condition=Q(basic_paid__gte=0, critical_paid__gte=0, other_paid__gte=0, assistance_paid__gte=0, policy_scope_cost__gte=0),
                name="extra_bill_amounts_non_negative",
            ),
            models.CheckConstraint(condition=Q(discharge_date__gte=F("admission_date")), name="extra_bill_discharge_after_admission"),
        ]

    def __str__(self) -> str:
        return f"{self.institution_name} {self.settlement_no}"

    @property
    def already_paid(self) -> Decimal:
        return self.other_paid + self.assistance_paid

    @property
    def burden(self) -> Decimal:
        return max(ZERO, self.policy_scope_cost - self.basic_paid - self.critical_paid - self.already_paid)


class CountedBill(models.Model):
    """A bill gathered into an application (snapshot of its burden, whether the engine counted it).

    Unique per application and bill: a bill is counted once even when two members are patients.
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="counted_bills", verbose_name=_("申请"))
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("就医人"))
    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("结算单"))
    extra_bill = models.ForeignKey(ExtraBill, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("外地票据"))
    settlement_no = models.CharField(_("结算单号"), max_length=50)
    institution_name = models.CharField(_("医疗机构"), max_length=100)
    designated = models.BooleanField(_("定点"), default=True)
    visit_type = models.CharField(_("就诊类型"), max_length=20, choices=VisitType.choices)
    admission_date = models.DateField(_("入院/就诊日期"))
    discharge_date = models.DateField(_("出院/结算日期"))
    policy_scope_cost = models.DecimalField(_("政策范围内费用"), **MONEY)
    basic_paid = models.DecimalField(_("基本医保支付"), **MONEY)
    critical_paid = models.DecimalField(_("大病保险支付"), **MONEY)
    other_paid = models.DecimalField(_("其他支付"), **MONEY)
    assistance_paid = models.DecimalField(_("已获救助"), **MONEY)
    burden = models.DecimalField(_("个人负担"), **MONEY)
    counted = models.BooleanField(_("计入"), default=False)
    reason = models.CharField(_("不计入原因"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("计入费用")
        verbose_name_plural = _("计入费用")
        ordering = ["person_id", "discharge_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "bill"], condition=Q(bill__isnull=False), name="uniq_counted_bill_once"),
            models.UniqueConstraint(fields=["application", "extra_bill"], condition=Q(extra_bill__isnull=False),
                                    name="uniq_counted_extra_bill_once"),
            models.CheckConstraint(condition=Q(bill__isnull=False) ^ Q(extra_bill__isnull=False), name="counted_bill_one_source"),
        ]

    def __str__(self) -> str:
        return f"{self.application} {self.settlement_no}"

    REASON_LABELS = {
        "non_designated": _("非定点医疗机构"),
        "visit_not_covered": _("就诊类别不在救助范围"),
        "not_counted": _("不计入"),
    }

    def get_reason_label(self) -> str:
        return str(self.REASON_LABELS.get(self.reason, self.reason))
