"""Decision letters (决定书, POLICY.md §7), their gapless numbering, and batch print jobs."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import FileExtensionValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Person
from organizations.models import District, Region

MONEY = {"max_digits": 14, "decimal_places": 2}


class LetterKind(models.TextChoices):
    CLAIM_APPROVED = "claim_approved", _("救助费用核准")
    CLAIM_REJECTED = "claim_rejected", _("救助费用不予救助")
    APPLICATION_APPROVED = "application_approved", _("依申请救助核准")
    APPLICATION_REJECTED = "application_rejected", _("依申请救助不予救助")

    @classmethod
    def for_claims(cls) -> tuple[str, ...]:
        return (cls.CLAIM_APPROVED, cls.CLAIM_REJECTED)

    @classmethod
    def for_applications(cls) -> tuple[str, ...]:
        return (cls.APPLICATION_APPROVED, cls.APPLICATION_REJECTED)


class LetterSequence(models.Model):
    """The last number issued by one office (district) in one year.

    Locked with ``SELECT ... FOR UPDATE`` inside the issuing transaction, so two letters issued at
    the same moment get consecutive numbers, and a failed issue rolls the number back (gapless).
    """

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="letter_sequences", verbose_name=_("出具机关（区县）"))
    year = models.PositiveSmallIntegerField(_("年度"))
    last = models.PositiveIntegerField(_("已用最大序号"), default=0)

    class Meta:
        verbose_name = _("决定书序号")
        verbose_name_plural = _("决定书序号")
        constraints = [models.UniqueConstraint(fields=["district", "year"], name="uniq_letter_sequence_district_year")]

    def __str__(self) -> str:
        return f"{self.district.short_name} {self.year}: {self.last}"


class LetterOffice(models.Model):
    """What an office's letters print in the rights notice (POLICY.md §7, 2026-12).

    The reconsideration body (复议机关: under the 2023 行政复议法 the people's government at the
    issuing department's level) and the court (the basic people's court where the office sits)
    are configured per office (district), in the admin; a district without a row gets one with
    the names derived from its region and district (``reports.services.letter_office_for``),
    which an administrator then checks.
    """

    district = models.OneToOneField(District, on_delete=models.PROTECT, related_name="letter_office", verbose_name=_("区县"))
    reconsideration_body = models.CharField(_("行政复议机关"), max_length=100, help_text=_("如：北京市朝阳区人民政府"))
    court = models.CharField(_("管辖人民法院"), max_length=100, help_text=_("如：北京市朝阳区人民法院"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("决定书出具机关设置")
        verbose_name_plural = _("决定书出具机关设置")
        constraints = [
            models.CheckConstraint(condition=~Q(reconsideration_body="") & ~Q(court=""), name="letter_office_rights_named"),
        ]

    def __str__(self) -> str:
        return str(self.district)


def letter_upload_to(instance: Letter, filename: str) -> str:
    # No personal data and no verify code in the path: only office, year and sequence.
    return f"letters/{instance.year}/{instance.district.code}/{instance.year}-{instance.seq:05d}.pdf"


class Letter(models.Model):
    """One issued decision letter. Issued once, stored with its SHA-256; never edited or deleted.

    A correction is a new letter whose ``replaces`` names this one.
    """

    kind = models.CharField(_("类型"), max_length=30, choices=LetterKind.choices)
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="letters", verbose_name=_("出具机关（区县）"))
    office_name = models.CharField(_("出具机关"), max_length=100)
    year = models.PositiveSmallIntegerField(_("年度"))
    seq = models.PositiveIntegerField(_("序号"))
    number = models.CharField(_("文号"), max_length=60, unique=True)
    # What was decided: a manual claim or an application (exactly one for letters issued by the
    # services; string references so the claims/applications apps need not import reports).
    claim = models.ForeignKey("claims.Claim", on_delete=models.PROTECT, null=True, blank=True, related_name="letters", verbose_name=_("报销申请"))
    application = models.ForeignKey(
        "applications.Application", on_delete=models.PROTECT, null=True, blank=True, related_name="letters", verbose_name=_("依申请救助申请"),
    )
    person = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="letters", verbose_name=_("收件人"))
    recipient_name = models.CharField(_("收件人姓名"), max_length=50)
    amount = models.DecimalField(_("救助金额"), **MONEY)
    issued_at = models.DateTimeField(_("出具时间"))
    issued_on = models.DateField(_("成文日期"))
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="letters_issued", verbose_name=_("出具人"))
    file = models.FileField(_("PDF 文件"), upload_to=letter_upload_to, max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    verify_code = models.CharField(_("核验码"), max_length=16, unique=True)
    replaces = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by", verbose_name=_("更正的原决定书"),
    )
    correction_reason = models.CharField(_("更正原因"), max_length=300, blank=True)
    # What the letter printed (masked ID only), kept so a reader can see it without opening the PDF.
    content = models.JSONField(_("决定书内容"), default=dict, blank=True)

    class Meta:
        verbose_name = _("决定书")
        verbose_name_plural = _("决定书")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["district", "year", "seq"], name="uniq_letter_seq_per_office_year"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="letter_seq_positive"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="letter_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(replaces__isnull=True) | ~Q(correction_reason=""), name="letter_correction_has_reason",
            ),
            models.CheckConstraint(
                condition=~(Q(claim__isnull=False) & Q(application__isnull=False)), name="letter_one_subject",
            ),
            models.CheckConstraint(
                condition=(Q(claim__isnull=True) | Q(kind__in=["claim_approved", "claim_rejected"]))
                & (Q(application__isnull=True) | Q(kind__in=["application_approved", "application_rejected"])),
                name="letter_kind_matches_subject",
            ),
        ]
        indexes = [models.Index(fields=["district", "issued_on"])]

    def __str__(self) -> str:
        return self.number

    @property
    def is_rejection(self) -> bool:
        return self.kind.endswith("rejected")

    @property
    def is_superseded(self) -> bool:
        try:
            return self.replaced_by is not None
        except Letter.DoesNotExist:
            return False


class PrintJobStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("生成中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


def print_job_upload_to(instance: PrintJob, filename: str) -> str:
    return f"letters/batches/{instance.pk}.pdf"


class PrintJob(models.Model):
    """A request to print many letters as one PDF (all of a day, or of a payment batch)."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人"))
    # The requester's scope at request time: the task selects letters within it.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", null=True, blank=True, verbose_name=_("统筹地区"))
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+", null=True, blank=True, verbose_name=_("区县"))
    issued_on = models.DateField(_("成文日期"), null=True, blank=True)
    payment_batch_id = models.PositiveBigIntegerField(_("支付批次"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=PrintJobStatus.choices, default=PrintJobStatus.QUEUED)
    letter_count = models.PositiveIntegerField(_("决定书份数"), default=0)
    file = models.FileField(_("PDF 文件"), upload_to=print_job_upload_to, max_length=200, blank=True)
    error = models.TextField(_("错误"), blank=True)
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("批量打印")
        verbose_name_plural = _("批量打印")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(issued_on__isnull=False) | Q(payment_batch_id__isnull=False), name="print_job_has_selection",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.issued_on or self.payment_batch_id}"


class DeliveryMethod(models.TextChoices):
    """送达方式 (行政诉讼法/民事诉讼法 送达 as practised by administrative offices)."""

    IN_PERSON = "in_person", _("直接送达")
    POST = "post", _("邮寄送达")
    LEFT_AT_ADDRESS = "left", _("留置送达")
    ENTRUSTED = "entrusted", _("委托送达")
    ELECTRONIC = "electronic", _("电子送达")
    PUBLIC_NOTICE = "public_notice", _("公告送达")


RECEIPT_EXTENSIONS = ["pdf", "jpg", "jpeg", "png"]


def receipt_upload_to(instance: LetterDelivery, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    # no personal data in the path: letter id only
    return f"letters/receipts/{instance.letter.year}/{instance.letter_id}.{ext}"


class LetterDelivery(models.Model):
    """送达记录: when and how the letter reached the recipient; the appeal periods run from it.

    One per letter; recorded once (a wrong record is corrected by an administrator, the letter
    itself never changes).
    """

    letter = models.OneToOneField(Letter, on_delete=models.PROTECT, related_name="delivery", verbose_name=_("决定书"))
    delivered_on = models.DateField(_("送达日期"))
    method = models.CharField(_("送达方式"), max_length=20, choices=DeliveryMethod.choices)
    receipt = models.FileField(_("送达回证"), upload_to=receipt_upload_to, max_length=200, blank=True,
                               validators=[FileExtensionValidator(RECEIPT_EXTENSIONS)])
    note = models.CharField(_("备注"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人"))
    recorded_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("送达记录")
        verbose_name_plural = _("送达记录")

    def __str__(self) -> str:
        return f"{self.letter.number} {self.delivered_on}"


class FundMonth(models.Model):
    """The fund pre-aggregate (基金支出预汇总, ``reports.aggregate``): granted money per district ×
    month × category × visit class × visit type × person, kept current by database triggers on
    bills and applications in the same transaction as every change of money. Read by the fund
    report instead of the bills; never written by application code except the repair."""

    district = models.ForeignKey(District, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
                                 verbose_name=_("经办区县"))
    year = models.PositiveSmallIntegerField(_("年度"))
    month = models.PositiveSmallIntegerField(_("月份"))
    category = models.TextField(_("救助对象类别"), blank=True)
    visit_class = models.TextField(_("就诊类别"), blank=True)
    visit_type = models.CharField(_("就诊类型"), max_length=20, blank=True)
    person = models.ForeignKey(Person, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
                               verbose_name=_("人员"))
    amount_fen = models.BigIntegerField(_("核定救助金额（分）"), default=0)
    bills = models.IntegerField(_("救助人次"), default=0)
    # 三重制度保障构成 (the three-tier report by category): the bills' cost parts, in fen
    total_fen = models.BigIntegerField(_("医疗总费用（分）"), default=0)
    scope_fen = models.BigIntegerField(_("政策范围内费用（分）"), default=0)
    basic_fen = models.BigIntegerField(_("基本医保支付（分）"), default=0)
    critical_fen = models.BigIntegerField(_("大病保险支付（分）"), default=0)
    other_fen = models.BigIntegerField(_("其他支付（分）"), default=0)

    class Meta:
        verbose_name = _("基金支出预汇总")
        verbose_name_plural = _("基金支出预汇总")
        constraints = [
            models.UniqueConstraint(fields=["district", "year", "month", "category", "visit_class", "visit_type", "person"],
                                    name="fund_month_key"),
        ]
        indexes = [
            models.Index(fields=["year", "month"], name="fund_month_year_idx"),
            # the report's distinct people (issue 20): index-only, in group order, no sort
            models.Index(fields=["year", "district", "category", "visit_class", "visit_type", "person", "month", "bills"],
                         name="fund_month_line_people_idx"),
            models.Index(fields=["year", "person", "month", "bills", "district"], name="fund_month_people_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.district_id} {self.year}-{self.month:02d} {self.category}/{self.visit_class}"


class FundDistrictMonth(models.Model):
    """The fund pre-aggregate's second level (issue 20, ``reports.aggregate``): per district × year ×
    month × category × visit class × visit type, the granted amount (fen), the bills and the people
    with bills (``FundMonth`` rows with bills > 0) of that month. Append-only deltas, written by
    triggers on ``reports_fundmonth`` in the same transaction (so no row is ever updated by two
    writers: no hot rows, no lock waits); a key's figure is the SUM of its rows, and
    ``reports.aggregate.compact`` folds them from time to time. Distinct people over several months
    or lines are not additive: the report counts them from ``FundMonth``."""

    district = models.ForeignKey(District, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
                                 verbose_name=_("经办区县"))
    year = models.PositiveSmallIntegerField(_("年度"))
    month = models.PositiveSmallIntegerField(_("月份"))
    category = models.TextField(_("救助对象类别"), blank=True)
    visit_class = models.TextField(_("就诊类别"), blank=True)
    visit_type = models.CharField(_("就诊类型"), max_length=20, blank=True)
    amount_fen = models.BigIntegerField(_("核定救助金额（分）"), default=0)
    bills = models.IntegerField(_("救助人次"), default=0)
    people = models.IntegerField(_("救助人数"), default=0)
    # 三重制度保障构成 (the three-tier report by category): the bills' cost parts, in fen
    total_fen = models.BigIntegerField(_("医疗总费用（分）"), default=0)
    scope_fen = models.BigIntegerField(_("政策范围内费用（分）"), default=0)
    basic_fen = models.BigIntegerField(_("基本医保支付（分）"), default=0)
    critical_fen = models.BigIntegerField(_("大病保险支付（分）"), default=0)
    other_fen = models.BigIntegerField(_("其他支付（分）"), default=0)

    class Meta:
        verbose_name = _("基金支出区县月汇总")
        verbose_name_plural = _("基金支出区县月汇总")
        indexes = [models.Index(fields=["year", "district", "month"], name="fund_district_year_idx")]

    def __str__(self) -> str:
        return f"{self.district_id} {self.year}-{self.month:02d} {self.category}/{self.visit_class}"


class FundPeople(models.Model):
    """The fund pre-aggregate's third level (issue 20, ``reports.aggregate``): distinct people
    (救助人数) without counting them per request. Per grain (``aggregate.GRAINS``: a district line,
    a district, a region or everyone; over the year or in one month), unit (district or region id,
    0 for everyone), year, month and line: the number of people whose *first* granted month of the
    year in that group is this month (the "_month" grains: who have a granted bill this month).
    Append-only deltas written by triggers on ``reports_fundmonth`` in the same transaction; a
    figure is the SUM of its rows; 累计人数 to month M is the sum over months ≤ M."""

    grain = models.CharField(_("口径"), max_length=20)
    unit_id = models.IntegerField(_("区县或统筹地区"))
    year = models.PositiveSmallIntegerField(_("年度"))
    month = models.PositiveSmallIntegerField(_("月份"))
    category = models.TextField(_("救助对象类别"), blank=True)
    visit_class = models.TextField(_("就诊类别"), blank=True)
    visit_type = models.CharField(_("就诊类型"), max_length=20, blank=True)
    people = models.IntegerField(_("救助人数"), default=0)

    class Meta:
        verbose_name = _("基金支出人数汇总")
        verbose_name_plural = _("基金支出人数汇总")
        indexes = [models.Index(fields=["grain", "year", "unit_id", "month"], name="fund_people_grain_idx")]

    def __str__(self) -> str:
        return f"{self.grain} {self.unit_id} {self.year}-{self.month:02d}"


class FundPersonMark(models.Model):
    """Per grain, group and person: the first month of the year with a granted bill in that group
    (0: none any more), what the triggers compare against to write :class:`FundPeople`'s deltas."""

    grain = models.CharField(_("口径"), max_length=20)
    unit_id = models.IntegerField(_("区县或统筹地区"))
    year = models.PositiveSmallIntegerField(_("年度"))
    slot = models.PositiveSmallIntegerField(_("月份（按月口径）"))
    category = models.TextField(_("救助对象类别"), blank=True)
    visit_class = models.TextField(_("就诊类别"), blank=True)
    visit_type = models.CharField(_("就诊类型"), max_length=20, blank=True)
    person_id = models.BigIntegerField(_("人员"))
    month = models.PositiveSmallIntegerField(_("首次救助月份"), default=0)

    class Meta:
        verbose_name = _("基金支出人员首月")
        verbose_name_plural = _("基金支出人员首月")
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "unit_id", "year", "slot", "category", "visit_class", "visit_type", "person_id"],
                name="fund_person_mark_key"),
        ]

    def __str__(self) -> str:
        return f"{self.grain} {self.unit_id} {self.year}/{self.slot} person {self.person_id}: {self.month}"
