"""Nightly recalculation runs (重算) and early warnings (预警监测, POLICY.md §6)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Household, Person

MONEY = {"max_digits": 14, "decimal_places": 2}


class RunStatus(models.TextChoices):
    RUNNING = "running", _("运行中")
    SUCCEEDED = "succeeded", _("成功")
    FAILED = "failed", _("失败")


class RunTrigger(models.TextChoices):
    NIGHTLY = "nightly", _("夜间定时")
    COMMAND = "command", _("命令行")
    MANUAL = "manual", _("手工发起")


class RecalcRun(models.Model):
    """One recalculation run: what it covered, how far it got, what it changed and found.

    Counters are updated with ``F()`` increments by the chunk tasks, so several workers can report
    progress on the same row without losing updates.
    """

    started_at = models.DateTimeField(_("开始时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING)
    trigger = models.CharField(_("发起方式"), max_length=20, choices=RunTrigger.choices, default=RunTrigger.NIGHTLY)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("发起人"),
    )
    full = models.BooleanField(_("全量重算"), default=False)
    year = models.PositiveSmallIntegerField(_("限定年度"), null=True, blank=True)
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("限定人员"),
    )
    dry_run = models.BooleanField(_("试运行（不写入）"), default=False)
    since = models.DateTimeField(
        _("增量起点"), null=True, blank=True, help_text=_("上次成功运行的开始时间；此后变动的人员年度才重算"),
    )
    expired_certifications = models.PositiveIntegerField(_("到期身份"), default=0)
    chunks_total = models.PositiveIntegerField(_("分片总数"), default=0)
    chunks_done = models.PositiveIntegerField(_("已完成分片"), default=0)
    person_years_total = models.PositiveIntegerField(_("重算人员年度"), default=0)
    bills_changed = models.PositiveIntegerField(_("变更结算单"), default=0)
    adjustments_created = models.PositiveIntegerField(_("补发/多付记录"), default=0)
    warnings_created = models.PositiveIntegerField(_("新增预警"), default=0)
    warnings_closed = models.PositiveIntegerField(_("因认定关闭的预警"), default=0)
    invariant_violations = models.JSONField(_("不变量违例"), default=list, blank=True)
    errors = models.JSONField(_("错误"), default=list, blank=True)

    class Meta:
        verbose_name = _("重算运行")
        verbose_name_plural = _("重算运行")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "dry_run", "-started_at"])]

    def __str__(self) -> str:
        return _("重算 #%(pk)s") % {"pk": self.pk}

    @property
    def progress_percent(self) -> int:
        if not self.chunks_total:
            return 100 if self.status != RunStatus.RUNNING else 0
        return min(100, round(100 * self.chunks_done / self.chunks_total))

    @property
    def duration(self):
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class WarningKind(models.TextChoices):
    ILLNESS_POVERTY = "illness_poverty", _("因病致贫")
    RETURN_TO_POVERTY = "return_to_poverty", _("因病返贫")


class WarningStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    REFERRED = "referred", _("已转申请")
    CERTIFIED = "certified", _("已认定")
    DISMISSED = "dismissed", _("已排除")


class EarlyWarning(models.Model):
    """A household whose year's burden after insurance crossed a policy threshold (§6).

    A work item for civil affairs: open → referred → certified / dismissed. Unique per
    (household, year, kind), so a dismissed warning is never recreated for the same year.
    """

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="early_warnings", verbose_name=_("家庭"))
    year = models.PositiveSmallIntegerField(_("年度"))
    kind = models.CharField(_("预警类型"), max_length=30, choices=WarningKind.choices)
    burden = models.DecimalField(_("年度医疗负担"), **MONEY, help_text=_("该成员医保和救助后的政策范围内个人负担（年度）"))
    threshold = models.DecimalField(_("预警标准"), **MONEY)
    person = models.ForeignKey("beneficiaries.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name=_("负担最重的成员"),
                               help_text=_("阈值比较的是个人年度负担（国办 五(七)）；此为超过阈值的成员"))
    household_burden = models.DecimalField(_("家庭年度医疗负担合计"), **MONEY, null=True, blank=True)
    clause = models.CharField(_("依据条款"), max_length=200, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=WarningStatus.choices, default=WarningStatus.OPEN)
    created_at = models.DateTimeField(_("生成时间"), auto_now_add=True)
    run = models.ForeignKey(RecalcRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="warnings", verbose_name=_("生成运行"))
    handled_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("处理人"),
    )
    note = models.TextField(_("处理说明"), blank=True)
    application_id = models.PositiveBigIntegerField(_("转入的申请"), null=True, blank=True)

    class Meta:
        verbose_name = _("预警")
        verbose_name_plural = _("预警")
        ordering = ["-year", "-burden", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["household", "year", "kind"], name="uniq_warning_household_year_kind"),
            models.CheckConstraint(condition=models.Q(burden__gte=0, threshold__gte=0), name="warning_amounts_non_negative"),
        ]
        indexes = [models.Index(fields=["status", "-year"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.year} #{self.household_id}"


class RecalcChunk(models.Model):
    """One chunk of a run: a person-id range (full run) or a list of touched person-years.

    Recorded done in the same transaction as its writes, so a redelivered chunk is skipped.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待处理")
        DONE = "done", _("完成")
        FAILED = "failed", _("失败")

    run = models.ForeignKey(RecalcRun, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("运行"))
    index = models.PositiveIntegerField(_("序号"))
    lo = models.BigIntegerField(_("起始人员ID"))
    hi = models.BigIntegerField(_("结束人员ID"))
    people = models.JSONField(
        _("人员与起始年度"), null=True, blank=True, help_text=_("[[人员ID, 起始年度], ...]；空表示区间内全部人员、全部年度"),
    )
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("执行次数"), default=0)
    person_years = models.PositiveIntegerField(_("人员年度"), default=0)
    bills_changed = models.PositiveIntegerField(_("变更结算单"), default=0)
    adjustments_created = models.PositiveIntegerField(_("补发/多付记录"), default=0)
    violations = models.JSONField(_("不变量违例"), default=list, blank=True)
    error = models.TextField(_("错误"), blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("重算分片")
        verbose_name_plural = _("重算分片")
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="uniq_chunk_per_run")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.index}"

    @property
    def people_count(self) -> int | None:
        return None if self.people is None else len(self.people)
