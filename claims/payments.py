"""Payment files (支付文件) for the bank or the social-security card (一卡通), and payee accounts.

A payment batch downloads as one file, XLSX or CSV, with the columns the bank's batch-payment
import takes: 序号, 户名, 身份证号, 账号/卡号, 开户行, 金额, 摘要; the last line is 合计 with
the total in figures and in capitals (大写, reports.capitals). The amounts are the batch's own
(``approved_amount`` of each claim, the relief of each approved application on relief
(依申请救助), the same figure the decision letter states), so the file's
total equals the batch total and the letters. Full ID and account numbers leave the system only
here: each download writes one IdRevealLog row per person (PIPL).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from organizations.exports import safe_cell

from .models import ZERO, Claim, PayeeAccount, PaymentBatch


def mask_account(number: str) -> str:
    """6222 **** **** 1234: first four and last four (screens never show the whole number)."""
    digits = (number or "").replace(" ", "")
    if len(digits) <= 8:
        return "*" * len(digits)
    return f"{digits[:4]} **** {digits[-4:]}"


@transaction.atomic
def payee_account_record(*, person, account_name: str, account_number: str, by, kind: str = PayeeAccount.Kind.BANK,
                         bank_name: str = "") -> PayeeAccount:
    """Record the person's payee account; the previous active one is ended (kept)."""
    number = "".join(account_number.split())
    if not number.isdigit() or not 8 <= len(number) <= 32:
        raise ValidationError({"account_number": ValidationError(_("账号/卡号应为8至32位数字。"), code="invalid")})
    if not account_name.strip():
        raise ValidationError({"account_name": ValidationError(_("请填写户名。"), code="required")})
    PayeeAccount.objects.select_for_update().filter(person=person, active=True).update(active=False,
                                                                                      ended_at=timezone.now())
    account = PayeeAccount(person=person, kind=kind, account_name=account_name.strip(), account_number=number,
                           bank_name=bank_name.strip(), created_by=by if getattr(by, "pk", None) else None)
    account.full_clean(exclude=["person", "created_by"])
    account.save()
    return account


@dataclass(frozen=True)
class FileLine:
    seq: int
    account_name: str
    id_number: str
    account_number: str
    bank_name: str
    amount: Decimal
    memo: str


HEADER = ("序号", "户名", "身份证号", "账号/卡号", "开户行", "金额", "摘要")


def bank_file_lines(batch: PaymentBatch) -> tuple[list[FileLine], Decimal]:
    """The batch's lines and total: its claims (``approved_amount``), then its reliefs on
    application (the relief granted, the amount of their decision letter); a person without an
    active payee account refuses the file."""
    from applications.models import ReliefPayment
    from reports.capitals import amount_in_capitals  # noqa: F401 - imported here so a missing module fails early

    claims = list(Claim.objects.filter(payment_batch=batch).select_related("person").order_by("id"))
    reliefs = list(ReliefPayment.objects.filter(batch=batch).select_related("application__applicant").order_by("id"))
    people = [(c.person, c.approved_amount or ZERO, _("医疗救助 %(no)s") % {"no": c.number}) for c in claims]
    people += [(r.application.applicant, r.amount, _("依申请救助 %(no)s") % {"no": r.application.number})
               for r in reliefs]
    accounts = {a.person_id: a for a in PayeeAccount.objects.filter(person_id__in=[p.pk for p, _a, _m in people],
                                                                     active=True)}
    missing = list(dict.fromkeys(p.name for p, _a, _m in people if p.pk not in accounts))
    if missing:
        raise ValidationError(_("以下人员未登记收款账户：%(names)s") % {"names": "、".join(missing[:20])}, code="no_account")
    lines = []
    for seq, (person, amount, memo) in enumerate(people, start=1):
        account = accounts[person.pk]
        lines.append(FileLine(seq, account.account_name, person.id_number, account.account_number,
                              account.bank_name, amount, memo))
    total = sum((line.amount for line in lines), ZERO)
    return lines, total


def batch_person_ids(batch: PaymentBatch) -> list[int]:
    """Everyone paid in the batch (claimants and relief applicants), once each."""
    from applications.models import ReliefPayment

    ids = list(Claim.objects.filter(payment_batch=batch).values_list("person_id", flat=True))
    ids += list(ReliefPayment.objects.filter(batch=batch).values_list("application__applicant_id", flat=True))
    return list(dict.fromkeys(ids))


def _rows(batch: PaymentBatch):
    from reports.capitals import amount_in_capitals

    lines, total = bank_file_lines(batch)
    rows: list[list[object]] = [[line.seq, line.account_name, line.id_number, line.account_number, line.bank_name,
                                 line.amount, line.memo] for line in lines]
    rows.append([_("合计"), _("共 %(n)s 笔") % {"n": len(lines)}, "", "", _("大写：%(c)s") % {"c": amount_in_capitals(total)},
                 total, batch.number])
    return lines, rows


def bank_file_csv(batch: PaymentBatch) -> tuple[bytes, list[FileLine]]:
    """UTF-8 with BOM (Excel opens it right); numbers as text so no digit is lost."""
    lines, rows = _rows(batch)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow([f"{v:.2f}" if isinstance(v, Decimal) else safe_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8"), lines


def bank_file_xlsx(batch: PaymentBatch) -> tuple[bytes, list[FileLine]]:
    """ID and account numbers stored as text cells; amounts as numbers with two decimals."""
    import openpyxl

    lines, rows = _rows(batch)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = batch.number[:31]
    sheet.append(list(HEADER))
    for row in rows:
        sheet.append([v if isinstance(v, Decimal | int) else safe_cell(v) for v in row])
    for cell in sheet["C"] + sheet["D"]:
        cell.number_format = "@"
    for cell in sheet["F"]:
        cell.number_format = "0.00"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), lines


@transaction.atomic
def recovery_close(*, adjustment, method: str, amount: Decimal, by, received_on, reference: str = "",
                   offset_claim: Claim | None = None, note: str = ""):
    """追回: close an open overpayment with a recorded repayment (receipt number) or an offset
    against a later claim of the same person (approved or paid); the whole overpaid amount.
    Resolves the adjustment through claims.services.adjustment_resolve (reviewer only)."""
    from organizations.permissions import require

    from .models import AdjustmentKind, PaymentAdjustment, Recovery
    from .services import adjustment_resolve

    adjustment = PaymentAdjustment.objects.select_for_update().select_related("bill").get(pk=adjustment.pk)
    require(by, "claims.resolve", district_id=adjustment.bill.district_id)
    # 多付待核 found by recalculation on a one-stop bill, or 追回 decided by a correction (claims.services.correction_approve)
    if adjustment.kind not in (AdjustmentKind.OVERPAYMENT, AdjustmentKind.RECOVERY):
        raise ValidationError(_("只有多付的差额需要追回。"), code="not_overpayment")
    if amount != adjustment.amount:
        raise ValidationError({"amount": ValidationError(
            _("追回金额应为多付的 %(a)s 元。") % {"a": adjustment.amount}, code="amount")})
    if method == Recovery.Method.REPAYMENT:
        if not reference.strip():
            raise ValidationError({"reference": ValidationError(_("请填写缴款凭证号。"), code="required")})
        offset_claim = None
    elif method == Recovery.Method.OFFSET:
        if offset_claim is None or offset_claim.person_id != adjustment.bill.person_id \
                or offset_claim.status not in ("approved", "paid"):
            raise ValidationError({"offset_claim": ValidationError(
                _("抵扣须针对同一人员已批准的报销申请。"), code="offset_claim")})
        if (offset_claim.approved_amount or ZERO) < amount:
            raise ValidationError({"offset_claim": ValidationError(
                _("该申请的核定金额不足以抵扣。"), code="offset_too_small")})
    else:
        raise ValidationError({"method": ValidationError(_("追回方式无效。"), code="invalid")})
    summary = (_("追回：缴款 %(a)s 元，凭证 %(r)s") % {"a": amount, "r": reference.strip()} if offset_claim is None
               else _("追回：抵扣申请 %(no)s，%(a)s 元") % {"no": offset_claim.number, "a": amount})
    adjustment_resolve(adjustment=adjustment, by=by, note=f"{summary}。{note}".strip())
    return Recovery.objects.create(adjustment=adjustment, method=method, amount=amount, reference=reference.strip(),
                                   offset_claim=offset_claim, received_on=received_on, closed_by=by, note=note)
