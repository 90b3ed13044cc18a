"""Regions, districts, agencies, staff and designated institutions."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

division_code = RegexValidator(r"^\d{6}$", _("行政区划代码应为6位数字。"), code="division_code")


class Region(models.Model):
    """统筹地区 (e.g. 北京市): the area one policy applies to."""

    code = models.CharField(_("行政区划代码"), max_length=6, unique=True, validators=[division_code])
    name = models.CharField(_("名称"), max_length=50)
    short_name = models.CharField(_("简称"), max_length=10, help_text=_("如“京”"))

    class Meta:
        verbose_name = _("统筹地区")
        verbose_name_plural = _("统筹地区")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class District(models.Model):
    """区/县 with its division code, so a person can be placed from the ID number."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="districts", verbose_name=_("统筹地区"))
    code = models.CharField(_("行政区划代码"), max_length=6, unique=True, validators=[division_code])
    name = models.CharField(_("名称"), max_length=50)
    short_name = models.CharField(_("文号简称"), max_length=10, help_text=_("决定书文号前缀，如“京朝”"))

    class Meta:
        verbose_name = _("区县")
        verbose_name_plural = _("区县")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class AgencyKind(models.TextChoices):
    MEDICAL_SECURITY = "medical_security", _("医疗保障局")
    CIVIL_AFFAIRS = "civil_affairs", _("民政局")
    VETERANS_AFFAIRS = "veterans_affairs", _("退役军人事务局")
    TRADE_UNION = "trade_union", _("总工会")
    DISABLED_PERSONS_FEDERATION = "disabled_persons_federation", _("残疾人联合会")
    RURAL_REVITALIZATION = "rural_revitalization", _("乡村振兴局")
    HEALTH = "health", _("卫生健康委员会")
    PUBLIC_SECURITY = "public_security", _("公安局")


class Agency(models.Model):
    """A government agency of a region (city level) or of one district."""

    code = models.SlugField(_("机构代码"), max_length=40, unique=True, help_text=_("数据交换用，如 bj-chaoyang-civil"))
    kind = models.CharField(_("类型"), max_length=40, choices=AgencyKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="agencies", verbose_name=_("统筹地区"))
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, null=True, blank=True, related_name="agencies",
        verbose_name=_("区县"), help_text=_("空表示市级机构"),
    )

    class Meta:
        verbose_name = _("机构")
        verbose_name_plural = _("机构")
        ordering = ["region", "district", "kind"]

    def __str__(self) -> str:
        return self.name


class StaffProfile(models.Model):
    """Links a user to an agency and, for district staff, a district (empty = city level)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile", verbose_name=_("用户"))
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="staff", verbose_name=_("机构"))
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, null=True, blank=True, related_name="staff",
        verbose_name=_("区县"), help_text=_("空表示市级人员，可见全市"),
    )
    title = models.CharField(_("职务"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("工作人员")
        verbose_name_plural = _("工作人员")

    def __str__(self) -> str:
        return f"{self.user} · {self.agency}"

    @property
    def region(self) -> Region:
        return self.agency.region


class InstitutionLevel(models.TextChoices):
    PRIMARY = "primary", _("一级/基层")
    COUNTY = "county", _("县级")
    SECONDARY = "secondary", _("二级")
    TERTIARY = "tertiary", _("三级")
    PHARMACY = "pharmacy", _("定点药店")


class Institution(models.Model):
    """定点医药机构."""

    code = models.CharField(_("机构编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("等级"), max_length=20, choices=InstitutionLevel.choices)
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="institutions", verbose_name=_("所在区县"))
    designated = models.BooleanField(_("定点"), default=True)
    in_province = models.BooleanField(_("省内"), default=True)

    class Meta:
        verbose_name = _("定点医药机构")
        verbose_name_plural = _("定点医药机构")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class RegionStatistic(models.Model):
    """Per-region, per-year statistics used by deductible formulas and subsidies."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="statistics", verbose_name=_("统筹地区"))
    year = models.PositiveSmallIntegerField(_("年度"))
    per_capita_disposable_income = models.DecimalField(_("居民人均可支配收入"), max_digits=14, decimal_places=2, null=True, blank=True)
    resident_contribution = models.DecimalField(_("居民医保个人缴费"), max_digits=14, decimal_places=2, null=True, blank=True)
    # Recorded or corrected late, a statistic changes deductibles: the nightly incremental run
    # recomputes the region's person-years from ``year`` + 1 of statistics updated since its last run.
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True, null=True)

    class Meta:
        verbose_name = _("地区统计数据")
        verbose_name_plural = _("地区统计数据")
        constraints = [models.UniqueConstraint(fields=["region", "year"], name="uniq_region_statistic_year")]
        ordering = ["region", "-year"]

    def __str__(self) -> str:
        return f"{self.region} {self.year}"

    def as_engine_stats(self) -> dict[str, object]:
        values = {
            "per_capita_disposable_income": self.per_capita_disposable_income,
            "resident_contribution": self.resident_contribution,
        }
        return {k: v for k, v in values.items() if v is not None}


class RegionStatisticDeletion(models.Model):
    """A region statistic that stopped existing under its key: deleted, or corrected to another
    region or year (the old key is left without one). Written in the same transaction by the
    signals in ``organizations.signals``, so the nightly incremental run
    (``monitoring.services.touched_since``) recomputes the region's person-years from ``year``
    even though no statistic row is left to find. The values it had are kept for the record."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+", verbose_name=_("统筹地区"))
    year = models.PositiveSmallIntegerField(_("年度"))
    per_capita_disposable_income = models.DecimalField(_("居民人均可支配收入"), max_digits=14, decimal_places=2,
                                                       null=True, blank=True)
    resident_contribution = models.DecimalField(_("居民医保个人缴费"), max_digits=14, decimal_places=2, null=True, blank=True)
    deleted_at = models.DateTimeField(_("删除时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("已删除的地区统计数据")
        verbose_name_plural = _("已删除的地区统计数据")
        ordering = ["-deleted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.region_id} {self.year}"


from .otp_devices import RecoveryCode, RecoveryCodeDevice, SecureTOTPDevice  # noqa: E402,F401 - second factor (issue 15)
