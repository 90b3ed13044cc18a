"""Celery tasks of the roster import: they take an ImportBatch pk (never file contents or ID
numbers), call the service, and are idempotent (a batch in the wrong state is left alone)."""
from __future__ import annotations

import logging

from celery import shared_task

from .models import ImportBatch, ImportStatus

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def validate_roster(batch_pk: int) -> str:
    from .imports import batch_validate

    batch = ImportBatch.objects.select_related("agency", "uploaded_by").get(pk=batch_pk)
    try:
        batch = batch_validate(batch)
    except Exception:
        logger.exception("roster validation failed: batch=%s", batch_pk)
        ImportBatch.objects.filter(pk=batch_pk).update(status=ImportStatus.FAILED, message="内部错误，请联系管理员")
        raise
    return batch.status


@shared_task(acks_late=True)
def apply_roster(batch_pk: int) -> str:
    from .imports import batch_apply

    batch = ImportBatch.objects.select_related("agency", "uploaded_by", "applied_by").get(pk=batch_pk)
    try:
        batch = batch_apply(batch)
    except Exception:
        logger.exception("roster import failed: batch=%s", batch_pk)
        ImportBatch.objects.filter(pk=batch_pk).update(status=ImportStatus.FAILED, message="内部错误，请联系管理员；未写入任何数据")
        raise
    return batch.status
