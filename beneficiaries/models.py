"""People, households, categories and certifications (POLICY.md §2)."""
from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from organizations.fieldcrypto import BlindIndexField, EncryptedCharField, blind_index
from organizations.models import Agency, AgencyKind, District, Region

from . import idnumber


class Category(models.Model):
    """A beneficiary category (救助对象类别) with its stable code and owning agency kind(s)."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    agency_kind = models.CharField(_("认定机构"), max_length=40, choices=AgencyKind.choices)
    co_agency_kind = models.CharField(
        _("共同认定机构"), max_length=40, choices=AgencyKind.choices, blank=True,
        help_text=_("如因病致贫重病患者由民政会同医保认定"),
    )
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("救助对象类别")
        verbose_name_plural = _("救助对象类别")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name

    def certifiable_by(self, agency_kind: str) -> bool:
        return agency_kind in (self.agency_kind, self.co_agency_kind)


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class InsuranceType(models.TextChoices):
    EMPLOYEE = "employee", _("职工医保")
    RESIDENT = "resident", _("居民医保")
    NONE = "none", _("未参保")


class Household(models.Model):
    """家庭: the unit of relief on application and of early warnings."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="households", verbose_name=_("户籍区县"))
    address = models.CharField(_("住址"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("家庭")
        verbose_name_plural = _("家庭")

    def __str__(self) -> str:
        head = self.members.filter(relation=Relation.HEAD).first()
        return _("%(name)s家庭") % {"name": head.name} if head else _("家庭#%(pk)s") % {"pk": self.pk}


class Relation(models.TextChoices):
    HEAD = "head", _("户主")
    SPOUSE = "spouse", _("配偶")
    CHILD = "child", _("子女")
    PARENT = "parent", _("父母")
    GRANDCHILD = "grandchild", _("孙子女")
    SIBLING = "sibling", _("兄弟姐妹")
    OTHER = "other", _("其他")


CONTRIBUTION_YEAR_MIN = 2000


def validate_contribution_paid_year(value: int | None) -> None:
    """A four-digit year from 2000 up to next year (the contribution for next year is collected
    in the autumn before, so next year may already be paid; later years cannot be)."""
    if value is None:
        return
    latest = timezone.localdate().year + 1
    if not CONTRIBUTION_YEAR_MIN <= value <= latest:
        raise ValidationError(
            _("请填写%(min)s年至%(max)s年之间的四位年份。"), code="invalid_year",
            params={"min": CONTRIBUTION_YEAR_MIN, "max": latest},
        )


class RegistrationSource(models.TextChoices):
    """How a person came to be registered (登记来源)."""

    OFFICE = "", _("经办登记")
    SETTLEMENT_FILE = "settlement_file", _("结算数据导入（非救助对象）")
    SETTLEMENT_API = "settlement_api", _("医院结算接口（非救助对象）")


class Person(models.Model):
    # Encrypted at rest; exact lookups (and uniqueness) go through the keyed hash, the search by
    # the last four digits through the tail hash (organizations.fieldcrypto, docs/security.md).
    id_number = EncryptedCharField(_("身份证号"), plain_max_length=18, hash_field="id_number_hash",
                                   tail_field="id_number_tail_hash")
    id_number_hash = BlindIndexField(_("身份证号密文索引"), source="id_number", unique=True)
    id_number_tail_hash = BlindIndexField(_("身份证号后四位索引"), source="id_number", tail=True, db_index=True)
    name = models.CharField(_("姓名"), max_length=50)
    gender = models.CharField(_("性别"), max_length=1, choices=Gender.choices, editable=False)
    birth_date = models.DateField(_("出生日期"), editable=False)
    hukou_district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="persons", verbose_name=_("户籍区县"))
    insurance_type = models.CharField(_("参保类型"), max_length=20, choices=InsuranceType.choices, default=InsuranceType.RESIDENT)
    insured_region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="insured_persons", verbose_name=_("参保地"))
    disability_grade = models.PositiveSmallIntegerField(
        _("残疾等级"), null=True, blank=True, choices=[(1, _("一级")), (2, _("二级")), (3, _("三级")), (4, _("四级"))],
    )
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    address = models.CharField(_("住址"), max_length=200, blank=True)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, null=True, blank=True, related_name="members", verbose_name=_("家庭"))
    relation = models.CharField(_("与户主关系"), max_length=20, choices=Relation.choices, blank=True)
    contribution_paid_year = models.PositiveSmallIntegerField(
        _("个人已自行缴费的最近年度"), null=True, blank=True, validators=[validate_contribution_paid_year],
        help_text=_("本人自行缴纳（非资助）居民医保个人缴费的最近年度；宁波等政策据此判断当年新认定的对象是否次年起资助。"),
    )
    # A person first seen in a settlement record (POLICY.md §9): registered as a non-beneficiary
    # so that 因病致贫 warnings see everyone the platform settles; no certification is implied.
    registration_source = models.CharField(
        _("登记来源"), max_length=20, choices=RegistrationSource.choices, default=RegistrationSource.OFFICE, blank=True,
        help_text=_("由结算数据登记的人员是非救助对象，直至被认定"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("人员")
        verbose_name_plural = _("人员")
        ordering = ["id"]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["hukou_district", "id"])]

    def __str__(self) -> str:
        return f"{self.name}（{self.masked_id_number}）"

    @property
    def masked_id_number(self) -> str:
        return idnumber.mask(self.id_number)

    @property
    def age(self) -> int | None:
        """Age today: what a page shows beside the masked number instead of the birth date (PIPL
        minimum necessary: the mask hides the 8 birth-date digits, a birth date would complete it)."""
        if self.birth_date is None:
            return None
        from django.utils import timezone

        return idnumber.age_on(self.birth_date, timezone.localdate())

    def clean(self) -> None:
        try:
            info = idnumber.parse(self.id_number)
        except idnumber.IdNumberError as exc:
            raise ValidationError({"id_number": ValidationError(exc.message, code=exc.code)}) from None
        self.id_number = info.number
        self.id_number_hash = blind_index(info.number)  # validate_unique checks the hash
        self.gender = info.gender
        self.birth_date = info.birth_date


class Certification(models.Model):
    """认定: a category held by a person from valid_from to valid_until (inclusive). Never deleted."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="certifications", verbose_name=_("人员"))
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="certifications", verbose_name=_("类别"))
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="certifications", verbose_name=_("认定机构"))
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="certifications_made", verbose_name=_("认定人员"),
    )
    document_ref = models.CharField(_("认定文号"), max_length=100, blank=True)
    valid_from = models.DateField(_("起始日期"))
    valid_until = models.DateField(_("终止日期"), null=True, blank=True)
    revocation_reason = models.CharField(_("终止原因"), max_length=200, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="certifications_revoked", verbose_name=_("终止人"),
    )
    revoked_at = models.DateTimeField(_("终止操作时间"), null=True, blank=True)
    import_batch = models.ForeignKey(
        "ImportBatch", on_delete=models.PROTECT, null=True, blank=True, related_name="certifications",
        verbose_name=_("导入批次"), help_text=_("由名单导入创建时的批次"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("身份认定")
        verbose_name_plural = _("身份认定")
        ordering = ["person", "valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="certification_until_after_from",
            ),
        ]
        indexes = [models.Index(fields=["person", "category"]), models.Index(fields=["agency", "category"])]

    def __str__(self) -> str:
        return f"{self.person.name} · {self.category.name}"

    def is_active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("已上传")
    VALIDATING = "validating", _("校验中")
    PREVIEWED = "previewed", _("待确认")
    APPLYING = "applying", _("导入中")
    APPLIED = "applied", _("已导入")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")


class ImportSource(models.TextChoices):
    WEB = "web", _("网页上传")
    COMMAND = "command", _("命令行")


class ImportBatch(models.Model):
    """名单导入批次: who imported which file (sha256) when, with what result.

    The import writes certifications in bulk (with bulk history rows, see ``imports.py``); this
    row is the batch-level audit record. The uploaded file lives under MEDIA_ROOT, not in the DB.
    """

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="import_batches", verbose_name=_("认定机构"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("上传人"),
    )
    source = models.CharField(_("来源"), max_length=10, choices=ImportSource.choices, default=ImportSource.WEB)
    file = models.FileField(_("文件"), upload_to="rosters/%Y/%m/", blank=True)
    file_name = models.CharField(_("文件名"), max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    roster_date = models.DateField(_("名单日期"), null=True, blank=True, help_text=_("终止名单外人员认定时使用的终止日期"))
    revoke_missing = models.BooleanField(_("终止名单外人员的认定"), default=False)
    status = models.CharField(_("状态"), max_length=20, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已处理行数"), default=0)
    created_count = models.PositiveIntegerField(_("新增"), default=0)
    unchanged_count = models.PositiveIntegerField(_("未变化"), default=0)
    revoked_count = models.PositiveIntegerField(_("终止"), default=0)
    rejected_count = models.PositiveIntegerField(_("拒绝"), default=0)
    persons_created = models.PositiveIntegerField(_("新登记人员"), default=0)
    errors = models.JSONField(_("错误行"), default=list, blank=True, help_text=_("[{line, field, message, values}]"))
    endings = models.JSONField(_("将终止的认定"), default=list, blank=True,
                               help_text=_("预览时每个将终止的认定：人员、类别、原终止日期 → 新终止日期"))
    message = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    validated_at = models.DateTimeField(_("校验时间"), null=True, blank=True)
    applied_at = models.DateTimeField(_("导入时间"), null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("确认人"),
    )

    class Meta:
        verbose_name = _("名单导入批次")
        verbose_name_plural = _("名单导入批次")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return _("名单导入#%(pk)s %(name)s") % {"pk": self.pk, "name": self.file_name}

    @property
    def progress_percent(self) -> int:
        if self.status in (ImportStatus.PREVIEWED, ImportStatus.APPLIED):
            return 100
        if not self.total_rows:
            return 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))

    @property
    def running(self) -> bool:
        return self.status in (ImportStatus.UPLOADED, ImportStatus.VALIDATING, ImportStatus.APPLYING)


class IdRevealLog(models.Model):
    """查看完整身份证号的记录 (PIPL): who saw whose full ID number, when."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("查看人"))
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="id_reveals", verbose_name=_("被查看人"))
    at = models.DateTimeField(_("查看时间"), auto_now_add=True)
    purpose = models.CharField(_("事由"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("身份证号查看记录")
        verbose_name_plural = _("身份证号查看记录")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} · {self.person} · {self.at:%Y-%m-%d %H:%M}"
