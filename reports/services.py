"""Writes of the reports app: issuing and correcting decision letters, batch print jobs.

A letter is rendered once, inside the transaction that takes its number, and stored with its
SHA-256; every later download serves those bytes. The number comes from a per office-and-year
:class:`~reports.models.LetterSequence` row locked ``FOR UPDATE``: concurrent issuers queue on
the row, and a failure rolls back both the letter and the number, so numbers have no gaps.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from operations.outbox import enqueue
from organizations.models import Agency, AgencyKind, District
from organizations.permissions import OutOfScope, require

from .models import (
    DeliveryMethod,
    Letter,
    LetterDelivery,
    LetterKind,
    LetterOffice,
    LetterSequence,
    PrintJob,
    PrintJobStatus,
    letter_upload_to,
)
from .pdf import render_letter_pdf, to_money

logger = logging.getLogger(__name__)

# Crockford-like alphabet without 0/O, 1/I/L, U: easy to read aloud and type from paper.
VERIFY_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
VERIFY_LENGTH = 10  # 30**10 ≈ 5.9e14 (≈49 bits): not guessable at any rate a 404 page allows


def new_verify_code() -> str:
    return "".join(secrets.choice(VERIFY_ALPHABET) for _ in range(VERIFY_LENGTH))


def normalise_verify_code(raw: str) -> str:
    """Codes are printed in groups (ABCDE-FGHJK); accept them with dashes, spaces, lower case."""
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def letter_number(*, district: District, year: int, seq: int) -> str:
    """文号: {district short}医救决〔{year}〕{seq}号, e.g. 京朝医救决〔2023〕17号.

    GB/T 9704-2012 7.2.4 (POLICY.md §7, 2026-12): the sequence number has no leading zeros
    (不编虚位). Letters issued before keep the number they were issued with (it is stored).
    """
    return f"{district.short_name}医救决〔{year}〕{seq}号"


def letter_office_for(district: District) -> LetterOffice:
    """The office's rights-notice settings; created with derived names when missing.

    Derived: 复议机关 = the people's government of the district, court = its basic people's court
    (e.g. 北京市朝阳区人民政府 / 北京市朝阳区人民法院), which is what the 2023 行政复议法 and the
    rule "where the office sits" give for a district bureau; the admin corrects a county whose
    court has another name.
    """
    office = LetterOffice.objects.filter(district=district).first()
    if office is not None:
        return office
    place = f"{district.region.name}{district.name}" if not district.name.startswith(district.region.name) else district.name
    LetterOffice.objects.bulk_create(
        [LetterOffice(district=district, reconsideration_body=f"{place}人民政府", court=f"{place}人民法院")],
        ignore_conflicts=True,
    )
    return LetterOffice.objects.get(district=district)


def office_name_for(district: District) -> str:
    """The issuing office: the district's medical-security bureau (医疗保障局)."""
    agency = Agency.objects.filter(kind=AgencyKind.MEDICAL_SECURITY, district=district).order_by("id").first()
    if agency is not None:
        return agency.name
    return f"{district.region.name}{district.name}医疗保障局"


def next_letter_seq(*, district: District, year: int) -> int:
    """Take the next number of ``district`` in ``year``. Caller holds a transaction.

    The row is created if missing (ignore_conflicts: a concurrent creator wins harmlessly), then
    locked; the lock is held until the caller's transaction ends, which is what makes the
    sequence gapless: the number is only used if the letter is committed with it.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_letter_seq must run inside transaction.atomic()")
    LetterSequence.objects.bulk_create([LetterSequence(district=district, year=year, last=0)], ignore_conflicts=True)
    row = LetterSequence.objects.select_for_update().get(district=district, year=year)
    row.last += 1
    row.save(update_fields=["last"])
    return row.last


def _subject_of(*, kind: str, claim, application):
    if kind in LetterKind.for_claims():
        if claim is None or application is not None:
            raise ValidationError(_("该类决定书需要指定报销申请。"), code="subject_mismatch")
        return claim
    if kind in LetterKind.for_applications():
        if application is None or claim is not None:
            raise ValidationError(_("该类决定书需要指定依申请救助申请。"), code="subject_mismatch")
        return application
    raise ValidationError(_("未知的决定书类型：%(kind)s") % {"kind": kind}, code="invalid_kind")


def claim_letter_content(claim) -> dict[str, Any]:
    """Content of a claim letter: built by the claims app (``claims.letters.letter_content``)."""
    from claims.letters import letter_content

    return letter_content(claim)


def application_letter_content(application) -> dict[str, Any]:
    from applications.letters import letter_content

    return letter_content(application)


def _json_ready(value: Any) -> Any:
    """The content snapshot stored on the letter: Decimals and dates as strings."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _recipient_of(subject) -> Any:
    return getattr(subject, "person", None) or getattr(subject, "applicant", None)


def _issue(*, kind: str, district: District, content: dict[str, Any], by, claim=None, application=None,
           person=None, replaces: Letter | None = None, correction_reason: str = "") -> Letter:
    """Number, render, store. Caller holds a transaction (the sequence lock lives until commit)."""
    now = timezone.now()
    issued_on = timezone.localdate(now)
    year = issued_on.year
    amount = to_money(content.get("amount")) or Decimal("0.00")
    if kind.endswith("rejected"):
        amount = Decimal("0.00")
    seq = next_letter_seq(district=district, year=year)
    number = letter_number(district=district, year=year, seq=seq)
    office = office_name_for(district)
    code = new_verify_code()
    while Letter.objects.filter(verify_code=code).exists():  # 1 in 10^14; cheap to be sure
        code = new_verify_code()
    rights = letter_office_for(district)
    content = {**content, "reconsideration_body": rights.reconsideration_body, "court": rights.court}
    with translation.override("zh-hans"):  # a letter is an official Chinese document
        pdf = render_letter_pdf(
            content, number, issued_on, office, code, kind=kind,
            replaces_number=replaces.number if replaces else "", correction_reason=correction_reason,
        )
    letter = Letter(
        kind=kind, district=district, office_name=office, year=year, seq=seq, number=number,
        claim=claim, application=application, person=person,
        recipient_name=str(content.get("recipient_name", ""))[:50], amount=amount,
        issued_at=now, issued_on=issued_on, issued_by=by,
        sha256=hashlib.sha256(pdf).hexdigest(), verify_code=code,
        replaces=replaces, correction_reason=correction_reason, content=_json_ready(content),
    )
    _remove_orphan_file(letter)
    letter.file.save("letter.pdf", ContentFile(pdf), save=False)
    _written_files().append(letter.file.name)
    try:
        letter.full_clean(exclude=["file"])
        letter.save()
    except Exception:
        letter.file.delete(save=False)  # the number rolls back with the transaction; so does the file
        raise
    logger.info("letter %s issued (kind=%s, letter_id=%s)", number, kind, letter.pk)
    return letter


_WRITTEN: ContextVar[list[str] | None] = ContextVar("letter_files_written", default=None)


def _written_files() -> list[str]:
    written = _WRITTEN.get()
    return written if written is not None else []


@contextmanager
def _letter_atomic():
    """``transaction.atomic()`` for issuing letters: if it rolls back, the PDFs written inside it
    are deleted, so a rolled-back issuance leaves no file carrying a number that is given again."""
    parent = _WRITTEN.get()
    written: list[str] = []
    token = _WRITTEN.set(written)
    try:
        with transaction.atomic():
            yield
        if parent is not None:  # an enclosing letter transaction may still roll back: it removes them then
            parent.extend(written)
    except BaseException:
        for name in written:
            try:
                Letter._meta.get_field("file").storage.delete(name)
            except OSError:  # pragma: no cover - the next issuance of the number removes it (_remove_orphan_file)
                logger.exception("could not remove the file of a rolled-back letter: %s", name)
        raise
    finally:
        _WRITTEN.reset(token)


def _remove_orphan_file(letter: Letter) -> None:
    """A number is given again only when the transaction that took it rolled back (gapless
    sequence); a file already at its path is then that transaction's orphan (e.g. an outer
    transaction rolled back after ``_letter_atomic`` ended): removed, never kept beside the new
    letter, so no two files carry one number."""
    name = letter_upload_to(letter, "letter.pdf")
    storage = letter.file.storage
    if storage.exists(name) and not Letter.objects.filter(file=name).exists():
        logger.warning("removing the orphan file of a rolled-back letter: %s", name)
        storage.delete(name)


def letter_issue(*, kind: str, claim=None, application=None, by) -> Letter:
    """Issue the decision letter for a decided claim or application (决定书).

    Idempotent: if a current (not corrected) letter of this kind exists for the subject, it is
    returned unchanged, so a retried ``on_commit`` hook never issues a second number.
    """
    subject = _subject_of(kind=kind, claim=claim, application=application)
    require(by, "letters.issue", district_id=subject.district_id)
    with _letter_atomic():
        # lock the claim/application row: two hooks for one decision must not both issue
        subject = type(subject).objects.select_for_update().get(pk=subject.pk)
        existing = (
            Letter.objects.filter(kind=kind, claim=claim, application=application, replaced_by__isnull=True)
            .order_by("-id").first()
        )
        if existing is not None:
            return existing
        if claim is not None:
            claim, content = subject, claim_letter_content(subject)
        else:
            application, content = subject, application_letter_content(subject)
        decision = str(content.get("decision", "")).lower()
        if decision in ("approved", "rejected") and not kind.endswith(decision):
            # e.g. an approval letter asked for a claim that is not (or no longer) approved
            raise ValidationError(
                _("决定书类型与申请的决定不一致（%(kind)s / %(decision)s）。") % {"kind": kind, "decision": decision},
                code="decision_mismatch",
            )
        return _issue(
            kind=kind, district=subject.district, content=content, by=by,
            claim=claim, application=application, person=_recipient_of(subject),
        )


def letter_issue_from_content(*, kind: str, district: District, content: dict[str, Any], by, person=None) -> Letter:
    """Issue a letter from a prepared content dict (demo data, tests, imports of paper decisions).

    Guarded like :func:`letter_issue`, whoever calls it (issue 15): ``by`` needs ``letters.issue``
    in the letter's district, and the recipient ``person`` must be one ``by`` sees."""
    require(by, "letters.issue", district_id=district.pk)
    if person is not None:
        from beneficiaries.selectors import access_persons

        if not access_persons(by).filter(pk=person.pk).exists():
            raise OutOfScope
    if kind not in LetterKind.values:
        raise ValidationError(_("未知的决定书类型：%(kind)s") % {"kind": kind}, code="invalid_kind")
    with _letter_atomic():
        return _issue(kind=kind, district=district, content=content, by=by, person=person)


def letter_correct(*, letter: Letter, reason: str, by) -> Letter:
    """Issue a corrected letter that names and replaces ``letter`` (更正).

    The new letter takes a new number of the current year; its content is rebuilt from the claim
    or application as it stands now (a letter without one reuses its stored content). The old
    letter and its file stay as they were: it is only marked replaced.
    """
    require(by, "letters.correct", district_id=letter.district_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ValidationError(_("请填写更正原因。"), code="reason_required")})
    with _letter_atomic():
        old = Letter.objects.select_for_update().get(pk=letter.pk)
        if Letter.objects.filter(replaces=old).exists():
            raise ValidationError(_("该决定书已被更正，请更正最新的决定书。"), code="already_replaced")
        if old.claim_id is not None:
            content = claim_letter_content(old.claim)
        elif old.application_id is not None:
            content = application_letter_content(old.application)
        else:
            content = dict(old.content)
        decision = str(content.get("decision", "")).lower()
        kind = old.kind
        if decision in ("approved", "rejected"):
            # the subject's decision may itself have been corrected (e.g. rejected → approved)
            kind = f"{kind.split('_')[0]}_{decision}"
        try:
            return _issue(
                kind=kind, district=old.district, content=content, by=by,
                claim=old.claim, application=old.application, person=old.person,
                replaces=old, correction_reason=reason[:300],
            )
        except IntegrityError as exc:  # a concurrent correction of the same letter won the race
            raise ValidationError(_("该决定书已被更正，请更正最新的决定书。"), code="already_replaced") from exc


# --------------------------------------------------------------------------------------------
# Delivery (送达)
# --------------------------------------------------------------------------------------------

RECEIPT_MAX_BYTES = 10 * 1024 * 1024
# 送达回证 / postal receipt are what prove these methods; an electronic delivery or a public
# notice is proven by the system's record or the notice itself, so a scan is optional there.
RECEIPT_REQUIRED = (DeliveryMethod.IN_PERSON, DeliveryMethod.POST, DeliveryMethod.LEFT_AT_ADDRESS, DeliveryMethod.ENTRUSTED)


def letter_record_delivery(*, letter: Letter, delivered_on: date, method: str, receipt=None, note: str = "", by) -> LetterDelivery:
    """Record that ``letter`` was delivered (送达): date, method, receipt scan.

    The appeal periods (60 days / 6 months) run from ``delivered_on``, so it may be neither before
    the letter's date nor in the future. Recorded once: a second record is refused.
    """
    require(by, "letters.deliver", district_id=letter.district_id)
    errors: dict[str, ValidationError] = {}
    if method not in DeliveryMethod.values:
        errors["method"] = ValidationError(_("请选择送达方式。"), code="invalid_method")
    if delivered_on is None:
        errors["delivered_on"] = ValidationError(_("请填写送达日期。"), code="required")
    elif delivered_on < letter.issued_on:
        errors["delivered_on"] = ValidationError(_("送达日期不能早于成文日期（%(d)s）。") % {"d": letter.issued_on.isoformat()},
                                                 code="before_issue")
    elif delivered_on > timezone.localdate():
        errors["delivered_on"] = ValidationError(_("送达日期不能晚于今天。"), code="future")
    if receipt is None and method in RECEIPT_REQUIRED:
        errors["receipt"] = ValidationError(_("该送达方式需要上传送达回证（或邮寄回执）扫描件。"), code="receipt_required")
    elif receipt is not None and receipt.size > RECEIPT_MAX_BYTES:
        errors["receipt"] = ValidationError(_("送达回证文件不能超过10 MB。"), code="receipt_too_large")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Letter.objects.select_for_update().get(pk=letter.pk)
        if LetterDelivery.objects.filter(letter=locked).exists():
            raise ValidationError(_("该决定书已登记送达。"), code="already_delivered")
        delivery = LetterDelivery(letter=locked, delivered_on=delivered_on, method=method, note=(note or "").strip()[:200],
                                  recorded_by=by)
        if receipt is not None:
            delivery.receipt.save(receipt.name, receipt, save=False)
        try:
            delivery.full_clean()
            delivery.save()
        except Exception:
            if delivery.receipt:
                delivery.receipt.delete(save=False)
            raise
    logger.info("letter %s delivery recorded (letter_id=%s, method=%s)", locked.number, locked.pk, method)
    return delivery


# --------------------------------------------------------------------------------------------
# Batch printing
# --------------------------------------------------------------------------------------------


def print_job_request(*, user, issued_on: date | None = None, payment_batch_id: int | None = None) -> PrintJob:
    """Record a request to print all letters of a day or of a payment batch; the task runs after commit."""
    from organizations.access import scope_for

    require(user, "letters.print", scoped=False)  # the job is limited to the requester's scope
    if issued_on is None and payment_batch_id is None:
        raise ValidationError({"issued_on": ValidationError(_("请选择成文日期或支付批次。"), code="selection_required")})
    scope = scope_for(user)
    if scope.nothing:
        raise ValidationError(_("没有可打印的范围。"), code="no_scope")
    with transaction.atomic():
        job = PrintJob.objects.create(
            requested_by=user, region_id=scope.region_id, district_id=scope.district_id,
            issued_on=issued_on, payment_batch_id=payment_batch_id,
        )
        from .tasks import print_letters

        enqueue(print_letters, job.pk)
    return job


def print_job_letters(job: PrintJob):
    """The letters a job prints, within the requester's scope at request time, in number order."""
    qs = Letter.objects.all()
    if job.district_id is not None:
        qs = qs.filter(district_id=job.district_id)
    elif job.region_id is not None:
        qs = qs.filter(district__region_id=job.region_id)
    if job.issued_on is not None:
        qs = qs.filter(issued_on=job.issued_on)
    if job.payment_batch_id is not None:
        qs = qs.filter(claim__payment_batch_id=job.payment_batch_id)
    return qs.order_by("district_id", "year", "seq")


def pad_to_even_pages(writer) -> None:
    """Double-sided printing: a letter with an odd page count gets a blank back page, so the
    next citizen's letter never starts on its back."""
    if len(writer.pages) % 2:
        last = writer.pages[-1].mediabox
        writer.add_blank_page(width=last.width, height=last.height)


def print_job_run(*, job_id: int) -> PrintJob:
    """Merge the stored PDFs (byte-identical to what was issued) into one file. Idempotent."""
    from pypdf import PdfWriter

    job = PrintJob.objects.get(pk=job_id)
    if job.status == PrintJobStatus.DONE and job.file:
        return job
    PrintJob.objects.filter(pk=job.pk).update(status=PrintJobStatus.RUNNING)
    try:
        writer = PdfWriter()
        count = 0
        for letter in print_job_letters(job).only("file").iterator(chunk_size=200):
            with letter.file.open("rb") as fh:
                writer.append(fh)
            pad_to_even_pages(writer)
            count += 1
        if count == 0:
            job.status, job.error = PrintJobStatus.FAILED, _("所选范围内没有决定书。")
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "error", "finished_at"])
            return job
        import io

        buf = io.BytesIO()
        writer.write(buf)
        if job.file:
            job.file.delete(save=False)
        job.file.save("batch.pdf", ContentFile(buf.getvalue()), save=False)
        job.status, job.letter_count, job.error = PrintJobStatus.DONE, count, ""
        job.finished_at = timezone.now()
        job.save(update_fields=["file", "status", "letter_count", "error", "finished_at"])
    except Exception as exc:
        logger.exception("print job %s failed", job_id)
        job.status, job.error = PrintJobStatus.FAILED, f"{type(exc).__name__}"
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        raise
    return job
