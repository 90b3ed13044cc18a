"""Celery tasks: take ids, call the import service, report progress on the SettlementImport row."""
from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from .imports import SettlementFileError, import_settlements
from .models import SettlementImport

logger = logging.getLogger(__name__)
MAX_STORED_ERRORS = 2000


def _run(import_id: int, *, dry_run: bool) -> None:
    job = SettlementImport.objects.select_related("uploaded_by").get(pk=import_id)
    busy = SettlementImport.Status.PREVIEWING if dry_run else SettlementImport.Status.APPLYING
    SettlementImport.objects.filter(pk=import_id).update(status=busy, processed_rows=0)

    def progress(done: int, total: int) -> None:
        SettlementImport.objects.filter(pk=import_id).update(processed_rows=done, total_rows=total)

    try:
        with job.file.open("rb") as fh:
            data = fh.read()
        district_ids = {job.district_id} if job.district_id else None
        report = import_settlements(data=data, file_name=job.original_name, by=job.uploaded_by, dry_run=dry_run,
                                    district_ids=district_ids, progress=progress)
    except SettlementFileError as exc:
        SettlementImport.objects.filter(pk=import_id).update(status=SettlementImport.Status.FAILED, message=str(exc),
                                                            finished_at=timezone.now())
        return
    SettlementImport.objects.filter(pk=import_id).update(
        status=SettlementImport.Status.PREVIEWED if dry_run else SettlementImport.Status.DONE,
        created=report.created, unchanged=report.unchanged, rejected=report.rejected,
        differences=len(report.differences),
        errors=[e.to_json() for e in report.errors[:MAX_STORED_ERRORS]],
        finished_at=None if dry_run else timezone.now(),
    )


@shared_task(acks_late=True, soft_time_limit=25 * 60, time_limit=30 * 60)
def settlement_import_preview(import_id: int) -> None:
    """Dry run of an uploaded file: counts, row errors and differences; writes nothing."""
    _run(import_id, dry_run=True)


@shared_task(acks_late=True, soft_time_limit=25 * 60, time_limit=30 * 60)
def settlement_import_apply(import_id: int) -> None:
    """Apply an uploaded file (idempotent: a re-run finds every row unchanged)."""
    _run(import_id, dry_run=False)


@shared_task(acks_late=True, soft_time_limit=5 * 60, time_limit=6 * 60)
def issue_decision_letter(kind: str, claim_id: int, by_id: int) -> None:
    """Decision letter for an approved/rejected claim (queued on commit of the decision)."""
    from .services import issue_decision_letter_now

    issue_decision_letter_now(kind=kind, claim_id=claim_id, by_id=by_id)
