"""Policies as data: one row per version; the rules are the engine's PolicySpec dict."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from organizations.models import Region


class Policy(models.Model):
    """A version of a region's medical-assistance policy.

    Versions are immutable once used: editing in admin saves a new version (``version + 1``) and
    closes the old one, so past decisions keep the rules they were computed with.
    """

    code = models.SlugField(_("政策代码"), max_length=40, help_text=_("如 beijing-2023"))
    version = models.PositiveIntegerField(_("版本"), default=1)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="policies", verbose_name=_("统筹地区"))
    document_no = models.CharField(_("文号"), max_length=100)
    title = models.CharField(_("标题"), max_length=200)
    effective_from = models.DateField(_("生效日期"))
    effective_to = models.DateField(_("失效日期"), null=True, blank=True)
    rules = models.JSONField(_("规则"), help_text=_("计算引擎的政策参数，每条规则注明条款出处"))
    needs_confirmation = models.BooleanField(_("需管理员确认"), default=False)
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("确认人"),
    )
    is_current = models.BooleanField(_("当前版本"), default=True)
    supersedes = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by", verbose_name=_("替代的版本"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("创建人"),
    )
    change_note = models.CharField(_("修改说明"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("救助政策")
        verbose_name_plural = _("救助政策")
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="uniq_policy_code_version"),
            models.UniqueConstraint(fields=["code"], condition=Q(is_current=True), name="uniq_current_policy_version"),
        ]

    def __str__(self) -> str:
        return f"{self.document_no} {self.title}（v{self.version}）"

    @property
    def usable(self) -> bool:
        return not self.needs_confirmation or self.confirmed_at is not None


class DistrictPolicy(models.Model):
    """区级标准: a district's dated override of NAMED parameters of its region's policy.

    Beijing 七: the tilted-assistance standard for referred care "由各区人民政府确定". The region's
    policy (``policy_code``) stays the one rule set; ``overrides`` maps a named parameter (see
    ``policies.districts.OVERRIDABLE``, e.g. ``tilted``) to its district value. The engine sees one
    resolved policy per bill (``policies.selectors.resolved_spec``) and every overridden line cites
    this row's ``document_no`` and ``clause``.
    """

    district = models.ForeignKey("organizations.District", on_delete=models.PROTECT, related_name="policy_overrides",
                                 verbose_name=_("区县"))
    policy_code = models.SlugField(_("所依据的市级政策代码"), max_length=40, help_text=_("如 beijing-2023"))
    document_no = models.CharField(_("区级文号"), max_length=100)
    clause = models.CharField(_("条款"), max_length=100, help_text=_("区级文件中规定该标准的条款，如“三(二)”"))
    title = models.CharField(_("标题"), max_length=200, blank=True)
    effective_from = models.DateField(_("生效日期"))
    effective_to = models.DateField(_("失效日期"), null=True, blank=True)
    overrides = models.JSONField(_("覆盖的参数"), default=dict,
                                 help_text=_("参数名 → 区级取值，如 {\"tilted\": {...}}"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("创建人"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("修改人"))

    class Meta:
        verbose_name = _("区级标准")
        verbose_name_plural = _("区级标准")
        ordering = ["district", "policy_code", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["district", "policy_code", "effective_from"],
                                    name="uniq_district_policy_start"),
            models.CheckConstraint(condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
                                   name="district_policy_period_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.district} {self.document_no} {self.clause}"

    @property
    def cite(self) -> str:
        return f"{self.document_no} {self.clause}".strip()
