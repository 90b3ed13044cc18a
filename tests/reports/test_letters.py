"""Decision letters (POLICY.md §7): numbering, content, storage, corrections."""
import hashlib
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from reports.models import Letter, LetterKind, LetterSequence
from reports.pdf import render_letter_pdf
from reports.services import (
    letter_correct,
    letter_issue,
    letter_issue_from_content,
    letter_number,
    next_letter_seq,
    normalise_verify_code,
)

from .helpers import pdf_text

pytestmark = pytest.mark.django_db


def test_policy_7_number_format_no_leading_zeros(district):
    """GB/T 9704 7.2.4 不编虚位 (POLICY.md §7, 2026-12): 17号, never 00017号."""
    assert letter_number(district=district, year=2023, seq=17) == "京朝医救决〔2023〕17号"
    assert letter_number(district=district, year=2023, seq=1) == "京朝医救决〔2023〕1号"


def test_policy_7_render_approved_letter_from_fixture(approved_content):
    pdf = render_letter_pdf(approved_content, "京朝医救决〔2023〕00017号", date(2023, 3, 15), "北京市朝阳区医疗保障局", "ABCDEFGHJK",
                            kind="claim_approved")
    text = pdf_text(pdf)
    assert pdf.startswith(b"%PDF")
    assert "医疗救助决定书" in text
    assert "京朝医救决〔2023〕00017号" in text
    assert "张伟" in text and "110105********1234" in text
    assert "人民币壹万陆仟肆佰零玖元零贰分" in text
    assert "16,409.02" in text
    assert "五(二)2" in text
    assert "2023年3月15日" in text
    assert "ABCDE-FGHJK" in text


def test_policy_7_render_rejected_letter_has_reason_and_rights(rejected_content):
    pdf = render_letter_pdf(rejected_content, "京朝医救决〔2023〕00018号", date(2023, 3, 15), "北京市朝阳区医疗保障局", "ABCDEFGHJK",
                            kind="claim_rejected")
    text = pdf_text(pdf)
    assert "不予医疗救助决定书" in text
    assert "非定点医药机构就医" in text
    assert "60日内" in text and "行政复议" in text and "6个月内" in text and "行政诉讼" in text
    assert "三(二)" in text


def test_policy_7_claim_letters_each_kind(approved_claim, rejected_claim, reviewer):
    approved = letter_issue(kind=LetterKind.CLAIM_APPROVED, claim=approved_claim, by=reviewer)
    rejected = letter_issue(kind=LetterKind.CLAIM_REJECTED, claim=rejected_claim, by=reviewer)
    year = approved.issued_on.year
    assert approved.number == f"京朝医救决〔{year}〕1号"
    assert rejected.number == f"京朝医救决〔{year}〕2号"
    assert approved.amount == Decimal("1680.32") and rejected.amount == Decimal("0.00")
    assert approved.person == approved_claim.person
    text = pdf_text(approved.file.read())
    assert approved.number in text and "张伟" in text
    assert "人民币壹仟陆佰捌拾元零叁角贰分" in text
    assert "五(二)2" in text
    assert approved_claim.person.id_number not in text  # only the masked number is printed
    assert approved_claim.person.masked_id_number in text
    assert "***************4567" in text or "4567" in text  # payee account masked
    text = pdf_text(rejected.file.read())
    assert rejected.number in text and "非定点医药机构就医" in text and "行政复议" in text


def test_policy_7_application_letters_each_kind(approved_application, reviewer):
    letter = letter_issue(kind=LetterKind.APPLICATION_APPROVED, application=approved_application, by=reviewer)
    text = pdf_text(letter.file.read())
    assert "依申请医疗救助决定书" in text
    assert letter.number in text and "张伟" in text
    assert "人民币叁万贰仟元整" in text
    assert "六(三)" in text


def test_policy_7_application_rejected_letter(rejected_application, reviewer):
    letter = letter_issue(kind=LetterKind.APPLICATION_REJECTED, application=rejected_application, by=reviewer)
    text = pdf_text(letter.file.read())
    assert "不予依申请医疗救助决定书" in text
    assert letter.number in text and "张伟" in text
    assert "家庭经济状况不符合因病致贫认定条件" in text
    assert "行政复议" in text and "行政诉讼" in text
    assert "六(三)" in text


def test_letter_issue_is_idempotent_per_subject_and_kind(approved_claim, reviewer):
    first = letter_issue(kind=LetterKind.CLAIM_APPROVED, claim=approved_claim, by=reviewer)
    again = letter_issue(kind=LetterKind.CLAIM_APPROVED, claim=approved_claim, by=reviewer)
    assert again.pk == first.pk
    assert Letter.objects.count() == 1


def test_letter_issue_refuses_kind_subject_mismatch(approved_claim, reviewer):
    with pytest.raises(ValidationError) as exc:
        letter_issue(kind=LetterKind.APPLICATION_APPROVED, claim=approved_claim, by=reviewer)
    assert exc.value.code == "subject_mismatch"


def test_policy_7_stored_once_with_sha256(district, reviewer, approved_content):
    letter = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    data = letter.file.read()
    assert hashlib.sha256(data).hexdigest() == letter.sha256
    assert letter.file.name == f"letters/{letter.year}/{district.code}/{letter.year}-00001.pdf"
    assert len(letter.verify_code) == 10 and letter.verify_code.isalnum()


def test_policy_7_numbers_gapless_sequential(district, other_district, reviewer, approved_content):
    numbers = [
        letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer).seq
        for _ in range(3)
    ]
    other = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=other_district, content=approved_content,
                                      by=_reviewer_of(other_district))
    assert numbers == [1, 2, 3]
    assert other.seq == 1 and other.number.startswith("京海医救决")  # per office
    assert LetterSequence.objects.get(district=district).last == 3


def test_policy_7_failed_issue_leaves_no_gap(district, reviewer, approved_content, monkeypatch):
    import reports.services as services

    def boom(*args, **kwargs):
        raise RuntimeError("renderer down")

    monkeypatch.setattr(services, "render_letter_pdf", boom)
    with pytest.raises(RuntimeError):
        letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    monkeypatch.undo()
    letter = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    assert letter.seq == 1


@pytest.mark.django_db(transaction=True)
def test_next_letter_seq_needs_a_transaction(district):
    with pytest.raises(RuntimeError):
        next_letter_seq(district=district, year=2023)


def test_policy_7_correction_chain(approved_claim, reviewer):
    first = letter_issue(kind=LetterKind.CLAIM_APPROVED, claim=approved_claim, by=reviewer)
    first_bytes = first.file.read()
    second = letter_correct(letter=first, reason="银行账户有误", by=reviewer)
    assert second.replaces == first and second.seq == first.seq + 1
    first.refresh_from_db()
    assert first.is_superseded and not second.is_superseded
    text = pdf_text(second.file.read())
    assert first.number in text and "银行账户有误" in text and second.number in text
    with first.file.open("rb") as fh:  # the original is kept as issued
        assert fh.read() == first_bytes
    with pytest.raises(ValidationError) as exc:
        letter_correct(letter=first, reason="again", by=reviewer)
    assert exc.value.code == "already_replaced"
    third = letter_correct(letter=second, reason="金额更正", by=reviewer)
    assert third.replaces == second
    # the corrected letter is the claim's current one: issuing again returns it, no new number
    assert letter_issue(kind=LetterKind.CLAIM_APPROVED, claim=approved_claim, by=reviewer) == third


def test_correction_needs_reason(district, reviewer, approved_content):
    letter = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    with pytest.raises(ValidationError) as exc:
        letter_correct(letter=letter, reason="  ", by=reviewer)
    assert exc.value.error_dict["reason"][0].code == "reason_required"


def test_verify_code_normalisation():
    assert normalise_verify_code("abcde-fghjk ") == "ABCDEFGHJK"


def test_letter_issue_refuses_letter_contradicting_the_decision(rejected_claim, reviewer):
    with pytest.raises(ValidationError) as exc:
        letter_issue(kind=LetterKind.CLAIM_APPROVED, claim=rejected_claim, by=reviewer)
    assert exc.value.code == "decision_mismatch"
    assert not Letter.objects.exists()
    from reports.models import LetterSequence

    assert not LetterSequence.objects.filter(last__gt=0).exists()  # no number taken


def test_letter_explanation_shows_no_internal_codes(approved_content):
    content = dict(approved_content, explanation=[
        {"label": "S00000001 就诊类别", "value": "inpatient", "clause": "六(二)"},
        {"label": "不属于医疗救助对象或不在身份有效期内", "value": "not_eligible", "clause": "十(三)"},
        {"label": "救助对象类别", "value": "最低生活保障对象（minimum_living）", "clause": "一(一)"},
        {"label": "年度救助限额（inpatient）", "value": "限额 60000.00", "clause": "六(二)"},
    ])
    text = pdf_text(render_letter_pdf(content, "京朝医救决〔2023〕00001号", date(2023, 3, 15), "北京市朝阳区医疗保障局",
                                      "ABCDEFGHJK", kind="claim_approved"))
    assert "inpatient" not in text and "not_eligible" not in text and "minimum_living" not in text
    assert "年度救助限额（住院）" in text
    import re

    assert re.search(r"就诊类别\s*住院", text)
    assert "S00000001 就诊类别" not in text


def _reviewer_of(district):
    """A reviewer of ``district``: issuing a letter needs ``letters.issue`` in its district (issue 15)."""
    from organizations import roles
    from tests.factories import make_staff

    return make_staff(roles.REVIEWER, district=district)
