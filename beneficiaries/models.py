"""People, households, categories and certifications (POLICY.md §2)."""
from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

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


class Person(models.Model):
    id_number = models.CharField(_("身份证号"), max_length=18, unique=True)
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

    def clean(self) -> None:
        try:
            info = idnumber.parse(self.id_number)
        except idnumber.IdNumberError as exc:
            raise ValidationError({"id_number": ValidationError(exc.message, code=exc.code)}) from None
        self.id_number = info.number
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
