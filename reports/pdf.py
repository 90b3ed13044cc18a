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

import math
import re
import threading
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
    """Where citizens reach ``/verify/<code>``: ``settings.PUBLIC_BASE_URL`` (one source).

    Production settings require it, so a production letter never prints a link to localhost;
    development and test settings may leave it empty and get the local server.
    """
    base = (getattr(settings, "PUBLIC_BASE_URL", "") or "").strip()
    return (base or LOCAL_BASE_URL).rstrip("/")


LOCAL_BASE_URL = "http://127.0.0.1:8000"


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


# Internal tier codes (BJ-3, NB-70, WX-100) never reach a citizen: the tier's name says it.
_TIER_CODE = re.compile(r"\b[A-Z]{2,4}-[0-9A-Z]+\b\s*")
_MONEY_IN_TEXT = re.compile(r"\d[\d,]*\.\d{2}")


def split_documents(policy_document: str) -> list[tuple[str, str]]:
    """``"京医保发〔2022〕37号 北京市关于…意见；…"`` → ``[("京医保发〔2022〕37号", "北京市关于…意见"), …]``."""
    out: list[tuple[str, str]] = []
    for part in re.split(r"[；;]", policy_document or ""):
        part = part.strip()
        if not part:
            continue
        number, _sep, title = part.partition(" ")
        if "号" not in number:  # a title without a document number
            number, title = "", part
        out.append((number.strip(), title.strip()))
    return out


def cite_document(number: str, title: str) -> str:
    """GB/T 9704 citation: the title in 《》 first, the number in brackets after it."""
    if title and number:
        return f"《{title}》（{number}）"
    if title:
        return f"《{title}》"
    return number


def _strip_doc(clause: str, numbers: list[str]) -> str:
    for number in numbers:
        if number and clause.startswith(number):
            return clause[len(number):].strip()
    return clause


def basis_sentence(policy_document: str, clauses: list[str]) -> str:
    """本决定依据…: each document cited once (title in 《》, then its number), followed by the
    clauses taken from it; clauses of a document not named in ``policy_document`` (e.g. a
    district's override) are cited with their own number."""
    documents = split_documents(policy_document)
    numbers = [n for n, _t in documents if n]
    by_doc: dict[str, list[str]] = {n: [] for n, _t in documents}
    others: list[str] = []
    for clause in clauses:
        clause = clause.strip()
        if not clause:
            continue
        owner = next((n for n in numbers if clause.startswith(n)), None)
        if owner is None and len(documents) == 1:
            owner = documents[0][0]
            rest = clause
        else:
            rest = _strip_doc(clause, numbers)
        if owner is None:
            if clause not in others:
                others.append(clause)
        elif rest and rest not in by_doc[owner]:
            by_doc[owner].append(rest)
    parts = []
    for number, title in documents:
        cited = cite_document(number, title)
        items = by_doc.get(number) or []
        parts.append(cited + "、".join(items) if items else cited)
    parts += others
    return "，".join(parts)


def _bill_rows(content: dict, decision: str, reason: str) -> list[dict[str, Any]]:
    bills = []
    for bill in content.get("bills") or []:
        row = dict(bill)
        row["visit_type"] = bill.get("visit_type") or bill.get("visit_type_label") or ""
        # "total" (assistance + tilted + special) when the claims app gives it, else "assistance"
        row["assistance"] = bill.get("total") if bill.get("total") not in (None, "") else bill.get("assistance")
        counted = bill.get("counted")
        counted_amount = bill.get("counted_amount")
        if counted is not None and not isinstance(counted, bool):  # older content: the counted amount
            counted_amount, counted = counted, None
        for key in ("total_cost", "burden", "assistance"):
            row[key] = money_figures(to_money(row.get(key)))
        row["counted_amount"] = money_figures(to_money(counted_amount))
        not_counted_reason = str(bill.get("not_counted_reason") or "")
        if decision == "rejected":
            # nothing is granted: every bill is 不计入, for the one reason the letter gives
            counted, not_counted_reason = False, reason
        elif counted is None:
            counted = not not_counted_reason
        row["counted"] = bool(counted)
        row["not_counted_reason"] = "" if counted else not_counted_reason
        for key in ("admission_date", "discharge_date"):
            row[key] = str(bill.get(key) or "")
        bills.append(row)
    return bills


# The bill table is laid out with fixed column widths (``table-layout: fixed``, issue 20): WeasyPrint's
# automatic table layout measured every cell's min- and max-content width with Pango on each render
# (≈ 15 % of a warm render) and gave the institution one character per line once a person column was
# added. The widths come from the text itself, estimated from the letter face's advance widths (CJK
# and full-width 1 em, digits 0.56 em, …: Noto Serif CJK SC; a little over, never under), at the
# table's 10.5 pt; the institution takes what is left. Every cell may still break anywhere
# (letter.css), so a figure wider than estimated wraps inside its cell instead of overflowing it.
TABLE_EM_MM = 10.5 / 72 * 25.4  # 1 em of the table's 10.5 pt in mm
TABLE_CELL_MM = 3.2  # padding 2 × 1.4 mm and the border
TEXT_WIDTH_MM = 156.0  # GB/T 9704 text area: 210 mm − 28 mm − 26 mm
_NARROW_EM = {**dict.fromkeys("0123456789", 0.56), ",": 0.33, ".": 0.33, ":": 0.33, "-": 0.35, " ": 0.26, "/": 0.4,
              "(": 0.4, ")": 0.4}


def text_em(text: str) -> float:
    """Estimated width of one line of ``text`` in em of the letter face (no wrapping)."""
    width = 0.0
    for char in text:
        if char in _NARROW_EM:
            width += _NARROW_EM[char]
        elif ord(char) >= 0x2E80:  # CJK, kana, full-width forms
            width += 1.0
        elif char.isupper():
            width += 0.75
        else:
            width += 0.6
    return width


def _mm(em: float) -> float:
    return math.ceil((em * TABLE_EM_MM + TABLE_CELL_MM) * 10) / 10  # up to 0.1 mm: never narrower than the text


def _widest(texts) -> float:
    return max((text_em(t) for t in texts if t), default=0.0)


# which columns give way first when the ideal widths do not fit (their headers or content wrap)
_SHRINK_ORDER = ("status", "total_cost", "burden", "assistance", "counted_amount", "settlement_no", "person", "visit_type")


def bill_table_columns(bills: list[dict[str, Any]], columns: dict[str, bool], headers: dict[str, str]) -> list[dict[str, Any]]:
    """The bill table's columns in the template's order, each ``{"key", "width"}`` (mm; ``None``
    for the institution, which takes the rest of the 156 mm).

    Each column has an ideal width (its header and its widest value on one line) and a least one
    (what must not wrap: a figure, a date; a header may wrap). When the ideal widths leave the
    institution less than four characters, the columns give way in :data:`_SHRINK_ORDER` down to
    their least widths; if even that does not fit, every column but the figures' is scaled down
    (their text wraps: letter.css lets every cell break anywhere).
    ``headers``: the column titles (:func:`bill_table_headers`)."""
    def values(key: str) -> list[str]:
        return [str(b.get(key) or "") for b in bills]

    dates = []
    for b in bills:
        dates.append(str(b.get("admission_date") or ""))
        if b.get("discharge_date") and b.get("discharge_date") != b.get("admission_date"):
            dates.append(headers["to"] + str(b["discharge_date"]))
    spec: list[tuple[str, float | None, float]] = []  # key, ideal em, least em
    if columns.get("person"):  # names wrap after four characters
        names = min(_widest(values("person_name")), 4.0)
        spec.append(("person", max(names, text_em(headers["person"])), min(names, 2.0)))
    number = min(_widest(values("settlement_no")), 12.0)
    spec.append(("settlement_no", max(number, text_em(headers["settlement_no"])), min(number, 4.0)))
    spec.append(("institution", None, 0.0))
    kinds = min(_widest(values("visit_type")), 4.0)
    spec.append(("visit_type", max(kinds, text_em(headers["visit_type"])), 2.0))
    spec.append(("date", max(_widest(dates), 2.0), max(_widest(dates), 2.0)))
    money = [key for key in ("total_cost", "burden") if columns.get(key)]
    if columns.get("assistance") or columns.get("counted_amount"):
        money.append("assistance" if columns.get("assistance") else "counted_amount")
    for key in money:
        figures = _widest(values(key))
        spec.append((key, max(figures, text_em(headers[key])), max(figures, 2.0)))
    reasons = [str(b["not_counted_reason"]) for b in bills if not b["counted"] and b.get("not_counted_reason")]
    spec.append(("status", max(4.0, min(_widest(reasons), 12.0)), 3.0))  # a 不计入 reason on one line if there is room
    widths = {key: _mm(ideal) for key, ideal, _least in spec if ideal is not None}
    least = {key: _mm(em) for key, ideal, em in spec if ideal is not None}
    deficit = sum(widths.values()) + _mm(4.0) - TEXT_WIDTH_MM
    for key in _SHRINK_ORDER:
        if deficit <= 0:
            break
        if key in widths:
            give = min(widths[key] - least[key], deficit)
            widths[key] = round(widths[key] - give, 1)
            deficit -= give
    deficit -= _mm(4.0) - _mm(2.0)  # the institution down to two characters
    if deficit > 0:  # the other columns shrink with their text wrapping; a figure keeps its width
        flexible = [key for key in widths if key not in money]
        room = TEXT_WIDTH_MM - _mm(2.0) - sum(widths[key] for key in money)
        scale = max(room, 0.0) / sum(widths[key] for key in flexible)
        widths.update({key: round(widths[key] * scale, 1) for key in flexible})
    return [{"key": key, "width": widths.get(key)} for key, _ideal, _least in spec]


def bill_table_headers() -> dict[str, str]:
    from django.utils.translation import gettext as _

    return {"person": _("就诊人"), "settlement_no": _("结算单号"), "visit_type": _("类型"), "date": _("就诊日期"),
            "to": _("至"), "total_cost": _("医疗总费用"), "burden": _("个人负担"), "assistance": _("救助金额"),
            "counted_amount": _("计入金额")}


def letter_context(content: dict, *, number: str, issued_on: date, office: str, verify_code: str,
                   kind: str | None = None, replaces_number: str = "", correction_reason: str = "") -> dict[str, Any]:
    decision = _decision_code(content, kind)
    kind = kind or f"claim_{decision}"
    rejected = decision == "rejected"
    amount = Decimal("0.00") if rejected else (to_money(content.get("amount")) or Decimal("0.00"))
    reason = str(content.get("reason", "") or "").strip() or ("不符合救助条件" if rejected else "")
    reason_clause = str(content.get("reason_clause", "") or "")
    bills = _bill_rows(content, decision, reason)
    policy_document = str(content.get("policy_document", "") or "")
    documents = split_documents(policy_document)
    numbers = [n for n, _t in documents if n]
    # Claims print assistance per bill; applications print what each bill counted towards relief.
    columns = {
        "person": any(b.get("person_name") for b in bills),
        # a rejection prints no amount at all (POLICY.md §7, 2026-12)
        "total_cost": not rejected and any(b["total_cost"] for b in bills),
        "burden": not rejected and any(b["burden"] for b in bills),
        "assistance": not rejected and any(b["assistance"] for b in bills),
        "counted_amount": not rejected and any(b["counted_amount"] for b in bills) and not any(b["assistance"] for b in bills),
    }
    if rejected:
        # one reason, the same in the text and in the table, and none of the computation's lines
        # (they carry amounts, and e.g. a category line would contradict 不属于医疗救助对象)
        explanation = [{"label": "不予救助理由", "value": reason, "clause": _strip_doc(reason_clause, numbers)}]
    else:
        explanation = _explanation_rows(content.get("explanation") or [], bills, numbers=numbers)
    clauses = [str(c) for c in (content.get("clauses") or []) if c]
    if rejected and reason_clause:
        # the basis of a rejection is the clause of its one reason, not the computation's
        clauses = [reason_clause]
    computed = to_money(content.get("computed_amount"))
    not_counted = [b for b in bills if not b["counted"]]
    # "grants less than applied for or computed": a rejection, an approval below the engine's
    # figure, or an approval that leaves out one of the bills applied for
    reduced = rejected or (computed is not None and amount < computed) or bool(not_counted)
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
        "computed_figures": money_figures(computed) if computed is not None and amount < computed else "",
        "bills": bills,
        "not_counted": not_counted,
        "columns": columns,
        "bill_columns": bill_table_columns(bills, columns, bill_table_headers()),
        "explanation": explanation,
        "basis": basis_sentence(policy_document, clauses) if (clauses or documents) else "",
        "reason": reason,
        "reduced": reduced,
        "reconsideration_body": str(content.get("reconsideration_body", "") or ""),
        "court": str(content.get("court", "") or ""),
        "payment_route": content.get("payment_route", ""),
        "verify_code": verify_code,
        "verify_code_display": "-".join(verify_code[i:i + 5] for i in range(0, len(verify_code), 5)),
        "verify_url": verify_url(verify_code),
        "replaces_number": replaces_number,
        "correction_reason": correction_reason,
    }


_CODE = re.compile(r"^[a-z][a-z_]*$")
_CODE_IN_BRACKETS = re.compile(r"（([a-z][a-z_]*)）")


def _explanation_rows(lines: list[dict[str, Any]], bills: list[dict[str, Any]], *,
                      numbers: list[str] | None = None) -> list[dict[str, str]]:
    """The engine's lines as a citizen reads them: no internal codes, no repeated bill number,
    no repeated document number (the basis paragraph cites the document once).

    A value that is a bare vocabulary code (``inpatient``, ``not_eligible``) is shown in Chinese
    when known, else left blank (its label already says it); with a single bill, the
    ``"<settlement no> "`` prefix some callers put on labels is dropped. Money values print
    with thousands separators, like the bill table.
    """
    from policies.engine.types import REASONS, VISIT_TYPE_LABELS

    words = {**VISIT_TYPE_LABELS, **REASONS}
    numbers = numbers or []
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
        value = _TIER_CODE.sub("", value).strip()
        value = _MONEY_IN_TEXT.sub(lambda m: money_figures(to_money(m.group(0).replace(",", ""))), value)
        clause = _strip_doc(str(line.get("clause", "") or ""), numbers)
        rows.append({"label": label, "value": value, "clause": clause})
    return rows


def html_to_pdf(html: str, stylesheets: list | None = None) -> bytes:
    """Render with this thread's shared font configuration (``letter_fonts``): the letter's subset
    CJK faces are registered once, and fontconfig/Pango keep fonts loaded between documents."""
    from weasyprint import HTML  # heavy import: only where a PDF is made

    from .letter_fonts import font_config

    config = font_config()
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(font_config=config, stylesheets=stylesheets)


_stylesheets = threading.local()


def letter_stylesheet():
    """``reports/letter.css`` parsed once per thread (issue 20: parsing it took ~7 % of a render).

    Given to WeasyPrint as a user stylesheet: the letter has no author stylesheet then (only two
    ``style`` attributes, which win over it as they won over the inline sheet), so every value is
    what the inline sheet gave (tests/reports/test_letter_fonts.py compares every layout box)."""
    sheet = getattr(_stylesheets, "letter", None)
    if sheet is None:
        from weasyprint import CSS

        from .letter_fonts import font_config

        sheet = CSS(string=render_to_string("reports/letter.css"), base_url=str(settings.BASE_DIR), font_config=font_config())
        _stylesheets.letter = sheet
    return sheet


def render_letter_html(content: dict, number: str, issued_on: date, office: str, verify_code: str, *,
                       external_css: bool = False, **extra: Any) -> str:
    """The letter's HTML; with ``external_css`` without its ``<style>`` (see :func:`letter_stylesheet`)."""
    context = letter_context(content, number=number, issued_on=issued_on, office=office, verify_code=verify_code, **extra)
    return render_to_string("reports/letter.html", {**context, "external_css": external_css})


def render_letter_pdf(content: dict, number: str, issued_on: date, office: str, verify_code: str, **extra: Any) -> bytes:
    """The letter as PDF bytes. ``extra``: kind, replaces_number, correction_reason."""
    html = render_letter_html(content, number, issued_on, office, verify_code, external_css=True, **extra)
    return html_to_pdf(html, stylesheets=[letter_stylesheet()])
