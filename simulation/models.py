"""Policy what-if (政策测算): draft policy versions and simulation runs, apart from the real ledgers.

A :class:`PolicyDraft` is a copy of a policy version's rules that an administrator edits and
names (the scenario). It lives in this app, not in ``policies.Policy``: nothing that makes a real
decision, letter or payment reads this table (``policies.selectors.policy_in_force`` and the
nightly ``PolicyPicker`` read ``Policy`` only), so a draft cannot be used for one by mistake.
Signing a draft into force is the ordinary ``policies.services.policy_revise`` on its base.

A :class:`SimulationRun` replays a period's real bills under the draft and under the versions in
force; its results (:class:`SimulationPersonYear`, the aggregates in ``summary``) never touch
``claims`` rows.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 14, "decimal_places": 2}


class PolicyDraft(models.Model):
    """草拟政策版本（测算方案）: never in force, never used for a real decision."""

    base = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="simulation_drafts",
                             verbose_name=_("所依据的现行版本"))
    region = models.ForeignKey("organizations.Region", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("统筹地区"))
    scenario = models.CharField(_("测算方案名称"), max_length=100)
    rules = models.JSONField(_("草拟规则"), help_text=_("计算引擎的政策参数，每条规则注明条款出处"))
    note = models.TextField(_("说明"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("创建人"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("草拟政策版本")
        verbose_name_plural = _("草拟政策版本")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.scenario}（{_('草拟')}，{self.base.code} v{self.base.version}）"


class SimulationRun(models.Model):
    """One replay of a period's bills under a draft and under the versions in force."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("测算中")
        SUCCEEDED = "succeeded", _("已完成")
        FAILED = "failed", _("失败")

    draft = models.ForeignKey(PolicyDraft, on_delete=models.PROTECT, related_name="runs", verbose_name=_("测算方案"))
    region = models.ForeignKey("organizations.Region", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("统筹地区"))
    district = models.ForeignKey("organizations.District", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("区县"), help_text=_("为空表示全统筹地区"))
    period_start = models.DateField(_("测算期间起"))
    period_end = models.DateField(_("测算期间止"))
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    chunks_total = models.PositiveIntegerField(_("分块数"), default=0)
    chunks_done = models.PositiveIntegerField(_("已完成分块"), default=0)
    person_years = models.PositiveIntegerField(_("人年数"), default=0)
    bills = models.PositiveIntegerField(_("结算单数"), default=0)
    summary = models.JSONField(_("汇总结果"), default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("发起人"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("测算任务")
        verbose_name_plural = _("测算任务")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(period_start__lte=models.F("period_end")), name="simulation_period_order"),
        ]

    def __str__(self) -> str:
        return f"{self.draft.scenario} {self.period_start}–{self.period_end}"

    @property
    def progress(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.chunks_total:
            return 0
        return min(100, int(self.chunks_done * 100 / self.chunks_total))

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SimulationChunk(models.Model):
    """A person-id range of a run; its aggregates are merged by the finalizer."""

    run = models.ForeignKey(SimulationRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    lo = models.BigIntegerField()
    hi = models.BigIntegerField()
    done = models.BooleanField(default=False)
    aggregates = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="uniq_simulation_chunk")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.index}"


class SimulationPersonYear(models.Model):
    """One person-year's assistance under the versions in force (``base_*``) and the draft."""

    run = models.ForeignKey(SimulationRun, on_delete=models.CASCADE, related_name="person_years_rows")
    person = models.ForeignKey("beneficiaries.Person", on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey("organizations.District", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    bills = models.PositiveIntegerField(default=0)
    base_total = models.DecimalField(**MONEY)
    draft_total = models.DecimalField(**MONEY)
    difference = models.DecimalField(**MONEY)
    base_capped = models.BooleanField(default=False)
    draft_capped = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["run", "difference"]), models.Index(fields=["run", "district"])]
        constraints = [models.UniqueConstraint(fields=["run", "person", "year"], name="uniq_simulation_person_year")]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.person_id}/{self.year}"
