"""What a claim's decision letter (决定书, POLICY.md §7) says: built from the claim and the
engine's stored explanation. The letters app (reports) renders and numbers it."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from . import money
from .models import ZERO, Claim, RejectionReason


def _mask_account(account: str) -> str:
    digits = account.replace(" ", "")
    return f"{'*' * 4}{digits[-4:]}" if len(digits) >= 4 else account


def explanation_rows(bill) -> list[dict[str, str]]:
    """The bill's explanation lines (label, value, clause) from its stored computation."""
    lines = (bill.computation or {}).get("explanation", {}).get("lines", [])
    return [{"label": line.get("label", ""), "value": line.get("value", ""), "clause": line.get("clause", "")} for line in lines]


def letter_content(claim: Claim) -> dict[str, Any]:
    """Content of the approval or rejection letter of ``claim`` (see the team contract for keys)."""
    approved = money.is_claim_granted(claim.status)
    bills = list(claim.bills.select_related("institution", "policy").order_by("discharge_date", "id"))
    rows, explanation, clauses, documents = [], [], [], []
    for bill in bills:
        rows.append({
            "settlement_no": bill.settlement_no,
            "institution": bill.institution.name,
            "visit_type_label": str(bill.get_visit_type_display()),
            "admission_date": bill.admission_date,
            "discharge_date": bill.discharge_date,
            "burden": bill.burden,
            "assistance": bill.assistance,
            "tilted": bill.tilted,
            "special": bill.special,
            "total": bill.total_assistance,
        })
        for line in explanation_rows(bill):
            explanation.append({"label": f"{bill.settlement_no} {line['label']}", "value": line["value"], "clause": line["clause"]})
        for clause in (bill.computation or {}).get("explanation", {}).get("clauses", []):
            if clause and clause not in clauses:
                clauses.append(clause)
        if bill.policy is not None:
            doc = f"{bill.policy.document_no} {bill.policy.title}"
            if doc not in documents:
                documents.append(doc)
    amount: Decimal = (claim.approved_amount if claim.approved_amount is not None
                       else sum((b.total_assistance for b in bills), ZERO)) if approved else ZERO
    reason = ""
    if not approved and claim.decision_reason:
        reason = str(RejectionReason(claim.decision_reason).label)
        if claim.decision_note:
            reason = f"{reason}：{claim.decision_note}"
    if approved:
        route = (_("银行转账至申请人账户（%(account)s）") % {"account": _mask_account(claim.payee_account)}
                 if claim.payee_account else _("由经办机构按支付批次发放"))
    else:
        route = ""
    return {
        "recipient_name": claim.person.name,
        "recipient_masked_id": claim.person.masked_id_number,
        "district_name": claim.district.name,
        "decision": "approved" if approved else "rejected",
        "amount": amount,
        "bills": rows,
        "explanation": explanation,
        "clauses": clauses,
        "reason": reason,
        "payment_route": route,
        "policy_document": "；".join(documents),
    }
