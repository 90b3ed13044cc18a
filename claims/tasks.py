"""Celery tasks: take ids, call the import service, report progress on the SettlementImport row."""
from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone
from django.utils.translation import gettext as _

from .imports import ImportCancelled, SettlementFileError, import_settlements
from .models import SettlementImport

logger = logging.getLogger(__name__)
MAX_STORED_ERRORS = 2000
Status = SettlementImport.Status


def _run(import_id: int, *, dry_run: bool) -> None:
    job = SettlementImport.objects.select_related("uploaded_by").get(pk=import_id)
    if dry_run:
        # Only an uploaded file is previewed (a re-delivered task finds it past that and stops).
        moved = SettlementImport.objects.filter(pk=import_id, status__in=(Status.UPLOADED, Status.PREVIEWING)).update(
            status=Status.PREVIEWING, processed_rows=0)
    else:
        # Only a confirmed file applies, and only once: confirming set APPLYING; DONE/FAILED stop here.
        moved = SettlementImport.objects.filter(pk=import_id, status=Status.APPLYING).update(processed_rows=0)
    if not moved:
        return

    def progress(done: int, total: int) -> None:
        SettlementImport.objects.filter(pk=import_id).update(processed_rows=done, total_rows=total)
        if SettlementImport.objects.filter(pk=import_id, cancel_requested=True).exists():
            raise ImportCancelled

    try:
        with job.file.open("rb") as fh:
            data = fh.read()
        district_ids = {job.district_id} if job.district_id else None
        report = import_settlements(data=data, file_name=job.original_name, by=job.uploaded_by, dry_run=dry_run,
                                    district_ids=district_ids, progress=progress,
                                    apply_good_rows=job.apply_good_rows)
    except SettlementFileError as exc:
        SettlementImport.objects.filter(pk=import_id).update(status=Status.FAILED, message=str(exc),
                                                            finished_at=timezone.now())
        return
    except ImportCancelled:
        SettlementImport.objects.filter(pk=import_id).update(status=Status.CANCELLED, message=_("已取消，未写入任何数据。"),
                                                            finished_at=timezone.now())
        return
    except Exception as exc:
        # Never leave a job "previewing" for ever: the page shows the failure, the log the cause.
        logger.exception("settlement import %s failed", import_id)
        SettlementImport.objects.filter(pk=import_id).update(
            status=Status.FAILED, message=_("导入失败（%(err)s），未写入任何数据。") % {"err": type(exc).__name__},
            finished_at=timezone.now())
        return
    SettlementImport.objects.filter(pk=import_id).update(
        status=Status.PREVIEWED if dry_run else Status.DONE,
        created=report.created, unchanged=report.unchanged, rejected=report.rejected,
        differences=len(report.differences),
        errors=[e.to_json() for e in report.errors[:MAX_STORED_ERRORS]],
        unregistered=report.unregistered, notes=[n.to_json() for n in report.notes[:MAX_STORED_ERRORS]],
        message="" if report.applied else _("有错误行且未确认仅导入正确行：未写入任何数据。"),
        finished_at=None if dry_run else timezone.now(),
    )


@shared_task(acks_late=True, soft_time_limit=25 * 60, time_limit=30 * 60)
def settlement_import_preview(import_id: int) -> None:
    """Dry run of an uploaded file: counts, row errors and differences; writes nothing."""
    _run(import_id, dry_run=True)


@shared_task(acks_late=True, soft_time_limit=25 * 60, time_limit=30 * 60)
def settlement_import_apply(import_id: int) -> None:
    """Apply a confirmed file (once: the task does nothing unless the job is APPLYING)."""
    _run(import_id, dry_run=False)


@shared_task(acks_late=True, soft_time_limit=5 * 60, time_limit=6 * 60)
def issue_decision_letter(kind: str, claim_id: int, by_id: int) -> None:
    """Decision letter for an approved/rejected claim (queued on commit of the decision)."""
    from .services import issue_decision_letter_now

    issue_decision_letter_now(kind=kind, claim_id=claim_id, by_id=by_id)
