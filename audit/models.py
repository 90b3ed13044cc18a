"""个人信息访问日志 (PIPL art. 51, 55; 等保三级 security audit): who read which personal data of
whom, why and when. Append-only:

- the ORM refuses: ``save()`` of an existing row, ``delete()``, ``QuerySet.update()`` and
  ``QuerySet.delete()`` raise :class:`AppendOnlyError` (so do the admin and any service);
- the database refuses too: migration 0002 installs a trigger (PostgreSQL: no UPDATE ever, no
  DELETE of a row younger than :data:`RETENTION_DAYS`; SQLite, the development database: no UPDATE);
- the only way out is :meth:`AccessLogQuerySet.purge_before`, which refuses a cut-off younger
  than :data:`RETENTION_DAYS` (the ``purge_access_log`` command).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Six months at least (PIPL practice, 等保三级 8.1.4.3 "审计记录保存 ≥ 6 个月"): 183 days.
RETENTION_DAYS = 183


class AppendOnlyError(Exception):
    """An access-log row may be added, never changed or removed (except by the retention purge)."""


class Action(models.TextChoices):
    REVEAL = "reveal", _("查看完整身份证号")
    EXPORT = "export", _("导出或下载")
    API_READ = "api_read", _("接口读取个人信息")
    LOG_EXPORT = "log_export", _("导出访问日志")
    BULK_LOOKUP = "bulk_lookup", _("批量比对（名单导入预览）")


class Purpose(models.TextChoices):
    """Why a full ID number is shown: chosen from this list, never empty free text."""

    VERIFY_IDENTITY = "verify_identity", _("核对身份（受理、审核）")
    PAYMENT = "payment", _("办理资助参保或救助金支付")
    CORRECTION = "correction", _("更正登记信息")
    REQUEST = "request", _("答复本人或代理人的查询")
    REVIEW = "review", _("行政复议、诉讼或信访")
    SUPERVISION = "supervision", _("配合审计或监督检查")


class AccessLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("access log rows are never updated")

    def delete(self):
        raise AppendOnlyError("access log rows are deleted only by the retention purge (purge_access_log)")

    def purge_before(self, cutoff: datetime) -> int:
        """Delete rows older than ``cutoff``; refuses a cut-off within the retention period."""
        oldest_allowed = timezone.now() - timedelta(days=RETENTION_DAYS)
        if cutoff > oldest_allowed:
            raise AppendOnlyError(
                f"retention is {RETENTION_DAYS} days: rows after {oldest_allowed:%Y-%m-%d %H:%M} are kept")
        qs = self.filter(at__lt=cutoff)
        return qs._raw_delete(qs.db)


class AccessLog(models.Model):
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+", verbose_name=_("操作人"))
    username = models.CharField(_("用户名"), max_length=150, blank=True)  # kept as it was at the time
    action = models.CharField(_("操作"), max_length=20, choices=Action.choices, db_index=True)
    what = models.CharField(_("内容"), max_length=300)
    person = models.ForeignKey("beneficiaries.Person", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("涉及人员"))
    subjects = models.CharField(_("涉及范围"), max_length=500, blank=True,
                                help_text=_("批量导出时：导出的筛选条件"))
    purpose = models.CharField(_("事由"), max_length=30, choices=Purpose.choices, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    path = models.CharField(_("地址"), max_length=300, blank=True)
    ip = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("个人信息访问日志")
        verbose_name_plural = _("个人信息访问日志")
        ordering = ["-at", "-id"]
        default_permissions = ("view",)
        indexes = [models.Index(fields=["user", "at"]), models.Index(fields=["person", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.get_action_display()} {self.what}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("access log rows are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("access log rows are deleted only by the retention purge (purge_access_log)")
