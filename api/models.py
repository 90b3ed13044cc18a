"""Machine API clients (接口客户端) and their access log.

Each external system (an agency's system, a designated hospital's HIS) is one client registered
by an administrator, bound to ONE agency or ONE institution. Its calls act as a service account
(``user``) scoped by :mod:`organizations.access` exactly like staff: an agency client through a
staff profile of its agency, an institution client as the institution's district. The token is
shown once at creation; only its SHA-256 is stored. Revoking is a timestamp, never a delete.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from organizations.models import Agency, Institution


class ApiClient(models.Model):
    class Kind(models.TextChoices):
        AGENCY = "agency", _("认定机构")
        INSTITUTION = "institution", _("定点医药机构")

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="api_clients",
                               verbose_name=_("认定机构"))
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="api_clients", verbose_name=_("定点医药机构"))
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_client",
                                verbose_name=_("服务账号"), editable=False)
    token_prefix = models.CharField(_("令牌前缀"), max_length=12, unique=True, editable=False)
    token_hash = models.CharField(_("令牌摘要"), max_length=64, editable=False)
    rate_limit = models.PositiveIntegerField(_("每分钟调用上限"), default=120)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("创建人"), editable=False)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("吊销人"), editable=False)

    class Meta:
        verbose_name = _("接口客户端")
        verbose_name_plural = _("接口客户端")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="agency", agency__isnull=False, institution__isnull=True)
                           | Q(kind="institution", institution__isnull=False, agency__isnull=True)),
                name="api_client_bound_to_one",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiAccessLog(models.Model):
    """Every call to /api/ (authenticated or not): who, when, what, the answer's status."""

    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, null=True, blank=True, related_name="calls",
                               verbose_name=_("接口客户端"))
    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    method = models.CharField(_("方法"), max_length=10)
    path = models.CharField(_("路径"), max_length=300)
    status_code = models.PositiveSmallIntegerField(_("状态码"))
    duration_ms = models.PositiveIntegerField(_("耗时(毫秒)"), default=0)
    ip = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)

    class Meta:
        verbose_name = _("接口调用记录")
        verbose_name_plural = _("接口调用记录")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["client", "at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status_code}"
