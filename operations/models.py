"""The transactional outbox: work to be queued, written in the same transaction as the decision."""
from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


def _task_id() -> str:
    return uuid.uuid4().hex


class OutboxTask(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("待发送")  # not (yet) accepted by the broker
        SENDING = "sending", _("发送中")
        SENT = "sent", _("已发送")  # in the broker's queue
        STARTED = "started", _("运行中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    task_name = models.CharField(_("任务"), max_length=200)
    args = models.JSONField(_("参数"), default=list, blank=True)
    kwargs = models.JSONField(_("关键字参数"), default=dict, blank=True)
    options = models.JSONField(_("发送选项"), default=dict, blank=True)  # e.g. {"queue": "simulation"}
    task_id = models.CharField(_("任务编号"), max_length=64, unique=True, default=_task_id, editable=False)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("发送次数"), default=0)
    broker_run = models.CharField(_("消息服务实例"), max_length=64, blank=True,
                                  help_text=_("发送时 Redis 的 run_id：Redis 重启后未执行的任务会重新发送"))
    last_error = models.TextField(_("最近错误"), blank=True)
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("待办任务")
        verbose_name_plural = _("待办任务")
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["state", "id"], name="outbox_open_idx",
                         condition=~models.Q(state__in=["done", "failed"])),
        ]

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)} [{self.state}]"


class WorkerHeartbeat(models.Model):
    """One row per Celery worker host, touched every few seconds by the worker (``/healthz``)."""

    hostname = models.CharField(_("工作进程"), max_length=200, unique=True)
    pid = models.PositiveIntegerField(default=0)
    last_seen = models.DateTimeField(_("最近心跳"))

    class Meta:
        verbose_name = _("工作进程心跳")
        verbose_name_plural = _("工作进程心跳")

    def __str__(self) -> str:
        return self.hostname
