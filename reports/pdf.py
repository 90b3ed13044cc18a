"""HTML → PDF with WeasyPrint, for decision letters and printed reports.

Letters are laid out after GB/T 9704《党政机关公文格式》: A4, 37 mm top / 28 mm binding margin,
Song-style serif title (the machine's "Noto Serif CJK SC", installed by ``scripts/sysdeps.sh`` as
fonts-noto-cjk; WenQuanYi Micro Hei as the last fallback so glyphs never become boxes), the
number under the title, serif body, page numbers as “— 1 —”, issuing office and date at the foot
with room for the seal. Fonts are subset and embedded by WeasyPrint (HarfBuzz subsetting).

The content dict a letter is rendered from (built by ``claims.letters.letter_content`` and
``applications.letters.letter_content``)::

    recipient_name        str
    recipient_masked_id   str   e.g. "110105********123X" (never the full number)
    district_name         str
    decision              str   "approved" | "rejected" (or a sentence, shown as is)
    amount                Decimal | str   total approved (0 for rejections)
    bills                 [ {settlement_no, institution, visit_type (or visit_type_label),
                             admission_date, discharge_date, total_cost, burden,
                             total (or assistance), counted, person_name}, ... ]
                          (any missing key prints as blank)
    explanation           [ {label, value, clause}, ... ]   the engine's explanation lines
    clauses               [str, ...]   clauses the decision rests on
    reason                str   rejection reason (rejections)
    payment_route         str   e.g. "一站式结算，由医疗机构直接减免" or "转账至本人社会保障卡"
    policy_document       str   e.g. "京医保发〔2022〕37号"
    subject               str   optional: what was decided (“2023年3月住院费用医疗救助申请”)
"""
from __future__ import annotations

import os
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from .capitals import amount_in_capitals

LETTER_TITLES = {
    "claim_approved": "医疗救助决定书",
    "claim_rejected": "不予医疗救助决定书",
    "application_approved": "依申请医疗救助决定书",
    "application_rejected": "不予依申请医疗救助决定书",
}


def public_base_url() -> str:
    """Where citizens reach ``/verify/<code>``: settings.PUBLIC_BASE_URL or env, else localhost."""
    base = getattr(settings, "PUBLIC_BASE_URL", "") or os.environ.get("PUBLIC_BASE_URL", "") or "http://127.0.0.1:8000"
    return base.rstrip("/")


def verify_url(code: str) -> str:
    return f"{public_base_url()}/verify/{code}"


def chinese_date(d: date) -> str:
    """GB/T 9704-2012 writes the date with Arabic numerals: 2023年3月5日."""
    return f"{d.year}年{d.month}月{d.day}日"


def to_money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        raise TypeError("money must not be float")
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def money_figures(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _decision_code(content: dict, kind: str | None) -> str:
    if kind:
        return "rejected" if kind.endswith("rejected") else "approved"
    decision = str(content.get("decision", "")).lower()
    return "rejected" if decision in ("rejected", "reject", "denied") or "不予" in decision else "approved"


def letter_context(content: dict, *, number: str, issued_on: date, office: str, verify_code: str,
                   kind: str | None = None, replaces_number: str = "", correction_reason: str = "") -> dict[str, Any]:
    decision = _decision_code(content, kind)
    kind = kind or f"claim_{decision}"
    amount = to_money(content.get("amount")) or Decimal("0.00")
    bills = []
    for bill in content.get("bills") or []:
        row = dict(bill)
        row["visit_type"] = bill.get("visit_type") or bill.get("visit_type_label") or ""
        # "total" (assistance + tilted + special) when the claims app gives it, else "assistance"
        row["assistance"] = bill.get("total") if bill.get("total") not in (None, "") else bill.get("assistance")
        for key in ("total_cost", "burden", "assistance", "counted"):
            row[key] = money_figures(to_money(bill.get(key)))
        bills.append(row)
    # Claims print assistance per bill; applications print what each bill counted towards relief.
    columns = {
        "person": any(b.get("person_name") for b in bills),
        "total_cost": any(b["total_cost"] for b in bills),
        # a rejection grants nothing: no per-bill assistance column, whatever the content says
        "assistance": decision == "approved" and any(b["assistance"] for b in bills),
        "counted": any(b["counted"] for b in bills) and not any(b["assistance"] for b in bills),
    }
    explanation = _explanation_rows(content.get("explanation") or [], bills)
    clauses = [c for c in (content.get("clauses") or []) if c]
    policy_document = str(content.get("policy_document", "") or "")
    doc_no = policy_document.split(" ")[0]
    # "本决定依据" names the document once: clauses that already carry its number stand alone
    basis_prefix = "" if doc_no and clauses and all(doc_no in c for c in clauses) else policy_document
    return {
        "kind": kind,
        "decision": decision,
        "decision_text": content.get("decision") if str(content.get("decision", "")).lower() not in ("approved", "rejected") else "",
        "title": LETTER_TITLES.get(kind, LETTER_TITLES["claim_approved"]),
        "number": number,
        "office": office,
        "issued_on": chinese_date(issued_on),
        "recipient_name": content.get("recipient_name", ""),
        "recipient_masked_id": content.get("recipient_masked_id", ""),
        "district_name": content.get("district_name", ""),
        "subject": content.get("subject", ""),
        "amount": amount,
        "amount_figures": money_figures(amount),
        "amount_capitals": amount_in_capitals(amount),
        "bills": bills,
        "columns": columns,
        "explanation": explanation,
        "clauses": clauses,
        "reason": content.get("reason", ""),
        "payment_route": content.get("payment_route", ""),
        "policy_document": policy_document,
        "basis_prefix": basis_prefix,
        "verify_code": verify_code,
        "verify_code_display": "-".join(verify_code[i:i + 5] for i in range(0, len(verify_code), 5)),
        "verify_url": verify_url(verify_code),
        "replaces_number": replaces_number,
        "correction_reason": correction_reason,
    }


_CODE = re.compile(r"^[a-z][a-z_]*$")
_CODE_IN_BRACKETS = re.compile(r"（([a-z][a-z_]*)）")


def _explanation_rows(lines: list[dict[str, Any]], bills: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The engine's lines as a citizen reads them: no internal codes, no repeated bill number.

    A value that is a bare vocabulary code (``inpatient``, ``not_eligible``) is shown in Chinese
    when known, else left blank (its label already says it); with a single bill, the
    ``"<settlement no> "`` prefix some callers put on labels is dropped.
    """
    from policies.engine.types import REASONS, VISIT_TYPE_LABELS

    words = {**VISIT_TYPE_LABELS, **REASONS}
    prefix = f"{bills[0].get('settlement_no')} " if len(bills) == 1 and bills[0].get("settlement_no") else None
    rows = []
    for line in lines:
        label, value = str(line.get("label", "")), str(line.get("value", "") or "")
        if prefix and label.startswith(prefix):
            label = label[len(prefix):]
        def bracketed(match: re.Match[str]) -> str:
            word = words.get(match.group(1))
            return f"（{word}）" if word else ""

        label, value = _CODE_IN_BRACKETS.sub(bracketed, label), _CODE_IN_BRACKETS.sub(bracketed, value)
        if _CODE.match(value):
            value = words.get(value, "")
            if value == label:
                value = ""
        rows.append({"label": label, "value": value, "clause": str(line.get("clause", "") or "")})
    return rows


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # heavy import: only where a PDF is made

    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def render_letter_html(content: dict, number: str, issued_on: date, office: str, verify_code: str, **extra: Any) -> str:
    return render_to_string("reports/letter.html", letter_context(
        content, number=number, issued_on=issued_on, office=office, verify_code=verify_code, **extra))


def render_letter_pdf(content: dict, number: str, issued_on: date, office: str, verify_code: str, **extra: Any) -> bytes:
    """The letter as PDF bytes. ``extra``: kind, replaces_number, correction_reason."""
    return html_to_pdf(render_letter_html(content, number, issued_on, office, verify_code, **extra))
