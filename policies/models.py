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
