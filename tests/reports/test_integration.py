"""End to end: a reviewer's decision in the claims app issues the numbered letter after commit."""
from datetime import date
from decimal import Decimal

import pytest

from reports.models import Letter, LetterKind
from tests.factories import CertificationFactory, InstitutionFactory

from .helpers import pdf_text

pytestmark = pytest.mark.django_db


def _claim(person, district, caseworker):
    from claims import services

    CertificationFactory(person=person, valid_from=date(2023, 1, 1))
    inst = InstitutionFactory(district=district)
    return services.claim_create(
        person=person, district=district, applied_on=date(2023, 4, 1), by=caseworker, payee_account="6222000011112222",
        bills=[{"institution": inst, "settlement_no": "M0001", "visit_type": "inpatient", "admission_date": date(2023, 3, 1),
                "discharge_date": date(2023, 3, 10), "total_cost": Decimal("30000.00"), "policy_scope_cost": Decimal("30000.00"),
                "basic_paid": Decimal("10000.00"), "critical_paid": Decimal("0.00"), "other_paid": Decimal("0.00")}],
    )


def test_policy_7_claim_approval_issues_letter_on_commit(person, district, caseworker, reviewer, django_capture_on_commit_callbacks):
    from claims import services

    claim = _claim(person, district, caseworker)
    services.claim_submit(claim=claim, by=caseworker)
    with django_capture_on_commit_callbacks(execute=True):
        services.claim_approve(claim=claim, reviewer=reviewer)
    letter = Letter.objects.get(claim=claim)
    claim.refresh_from_db()
    assert letter.kind == LetterKind.CLAIM_APPROVED and letter.issued_by == reviewer
    assert letter.amount == claim.approved_amount
    text = pdf_text(letter.file.read())
    assert letter.number in text and person.name in text and person.masked_id_number in text
    from reports.capitals import amount_in_capitals

    assert "人民币" + amount_in_capitals(letter.amount) in text


def test_policy_7_claim_rejection_issues_letter_on_commit(person, district, caseworker, reviewer, django_capture_on_commit_callbacks):
    from claims import services

    claim = _claim(person, district, caseworker)
    services.claim_submit(claim=claim, by=caseworker)
    with django_capture_on_commit_callbacks(execute=True):
        services.claim_reject(claim=claim, reviewer=reviewer, reason="non_designated", note="医院不在名单")
    letter = Letter.objects.get(claim=claim)
    assert letter.kind == LetterKind.CLAIM_REJECTED and letter.amount == Decimal("0.00")
    text = pdf_text(letter.file.read())
    assert "不予医疗救助决定书" in text and "医院不在名单" in text and "行政复议" in text
