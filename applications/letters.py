"""What a decision letter (决定书) on an application says; reports renders it (POLICY.md §7)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from .models import Application, AssessmentResult, HouseholdAssessment, Status

ZERO = Decimal("0.00")


def letter_content(application: Application) -> dict[str, Any]:
    """The letter's content as plain data: recipient (masked ID), decision, amount, counted bills,
    the explanation lines with their clauses, the reason for a rejection, payment route."""
    approved = application.status == Status.APPROVED
    applicant = application.applicant
    policy = application.policy
    computation = application.computation or {}
    bills = [
        {
            "settlement_no": row.settlement_no,
            "institution": row.institution_name,
            "visit_type_label": str(row.get_visit_type_display()),
            "admission_date": row.admission_date,
            "discharge_date": row.discharge_date,
            "burden": row.burden,
            "counted": row.counted,
            "counted_amount": row.burden if row.counted else ZERO,
            "not_counted_reason": "" if row.counted else (row.get_reason_label() or _("不计入")),
            "person_name": row.person.name,
        }
        for row in application.counted_bills.select_related("person").order_by("person_id", "discharge_date", "id")
    ]
    explanation = [
        {"key": line.get("key", ""), "label": line.get("label", ""), "value": line.get("value", ""), "clause": line.get("clause", "")}
        for line in computation.get("lines", [])
    ]
    clauses = list(computation.get("clauses", []))
    reason = ""
    if not approved:
        reason = application.decision_reason
        assessment = HouseholdAssessment.objects.filter(application=application).first()
        if not reason and assessment is not None and assessment.result == AssessmentResult.REFUSED:
            reason = assessment.reason
    return {
        "application_number": application.number,
        "recipient_name": applicant.name,
        "recipient_masked_id": applicant.masked_id_number,
        "district_name": application.district.name,
        "received_on": application.received_on,
        "decision": "approved" if approved else "rejected",
        "amount": (application.relief or ZERO) if approved else ZERO,
        "computed_amount": (application.relief or ZERO) if approved else ZERO,
        "burden": application.burden or ZERO,
        "bills": bills,
        "explanation": explanation,
        "clauses": clauses,
        "reason": reason,
        "payment_route": application.payment_route if approved else "",
        "policy_document": f"{policy.document_no} {policy.title}" if policy else "",
        "title": _("依申请医疗救助决定书") if approved else _("不予医疗救助决定书"),
    }
