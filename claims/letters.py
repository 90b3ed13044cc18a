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
    """The bill's explanation lines (key, label, value, clause) from its stored computation."""
    lines = (bill.computation or {}).get("explanation", {}).get("lines", [])
    return [{"key": line.get("key", ""), "label": line.get("label", ""), "value": line.get("value", ""),
             "clause": line.get("clause", "")} for line in lines]


# The reviewer's rejection reason → the engine's reason whose clause the letter cites.
ENGINE_REASON = {
    RejectionReason.NOT_BENEFICIARY: "not_eligible",
    RejectionReason.NON_DESIGNATED: "non_designated",
    RejectionReason.UNREFERRED: "unreferred",
    RejectionReason.NOT_COVERED: "visit_not_covered",
    RejectionReason.CAP_EXHAUSTED: "cap_exhausted",
}
# Engine outcomes that leave a bill out of the assistance (不计入), with the words printed.
NOT_COUNTED_ERRORS = ("not_eligible", "non_designated", "unreferred", "visit_not_covered", "outside_policy_period",
                      "invalid_amounts", "invalid_dates", "missing_statistic")


def _not_counted_reason(bill) -> str:
    """Why the engine left ``bill`` out, in words ("" when it was counted)."""
    from policies.engine.types import REASONS

    computation = bill.computation or {}
    error = computation.get("error")
    if error:
        return REASONS.get(error, str(error))
    for reason in computation.get("reasons", []):
        if reason in NOT_COUNTED_ERRORS:
            return REASONS.get(reason, reason)
    return ""


def _reason_clause(bills, engine_reason: str | None) -> str:
    """The clause the engine cited for ``engine_reason`` on any of the bills ("" if none)."""
    if not engine_reason:
        return ""
    for bill in bills:
        for line in (bill.computation or {}).get("explanation", {}).get("lines", []):
            if line.get("key") in (f"reason:{engine_reason}", "error") and line.get("clause"):
                return str(line["clause"])
    return ""


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
            "total": money.bill_granted(bill) if approved else bill.total_assistance,
            "not_counted_reason": _not_counted_reason(bill),
        })
        for line in explanation_rows(bill):
            explanation.append({"key": line["key"], "label": f"{bill.settlement_no} {line['label']}", "value": line["value"],
                                "clause": line["clause"]})
        for clause in (bill.computation or {}).get("explanation", {}).get("clauses", []):
            if clause and clause not in clauses:
                clauses.append(clause)
        if bill.policy is not None:
            doc = f"{bill.policy.document_no} {bill.policy.title}"
            if doc not in documents:
                documents.append(doc)
    amount: Decimal = (claim.approved_amount if claim.approved_amount is not None
                       else sum((money.bill_granted(b) for b in bills), ZERO)) if approved else ZERO
    computed: Decimal = sum((b.total_assistance for b in bills), ZERO)
    reason, reason_clause = "", ""
    if not approved and claim.decision_reason:
        # one reason (POLICY.md §7, 2026-12): the reviewer's, printed in the text and the table alike
        reason = str(RejectionReason(claim.decision_reason).label)
        if claim.decision_note:
            reason = f"{reason}：{claim.decision_note}"
        reason_clause = _reason_clause(bills, ENGINE_REASON.get(claim.decision_reason))
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
        "reason_clause": reason_clause,
        "computed_amount": computed if approved else ZERO,
        "payment_route": route,
        "policy_document": "；".join(documents),
    }
