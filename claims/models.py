"""Bills (one-stop settlement records and manually claimed bills) and what was computed on them."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Person
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
    # What the engine computed (kept current by claims services and the nightly run).
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, null=True, blank=True, related_name="bills", verbose_name=_("适用政策"))
    assistance = models.DecimalField(_("医疗救助"), **MONEY, default=ZERO)
    tilted = models.DecimalField(_("倾斜救助"), **MONEY, default=ZERO)
    special = models.DecimalField(_("专项救助"), **MONEY, default=ZERO)
    total_assistance = models.DecimalField(_("救助合计"), **MONEY, default=ZERO)
    computation = models.JSONField(_("计算说明"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("计算时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)
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
        ]
        indexes = [
            models.Index(fields=["person", "discharge_date"]),
            models.Index(fields=["district", "-discharge_date", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.settlement_no}（{self.person.name}）"

    @property
    def burden(self) -> Decimal:
        """政策范围内个人负担 after basic, critical-illness and other payments (floored at 0)."""
        return max(ZERO, self.policy_scope_cost - self.basic_paid - self.critical_paid - self.other_paid)
