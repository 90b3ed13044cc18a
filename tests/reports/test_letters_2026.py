"""Decision letters as amended in 2026-12 (POLICY.md §7): no leading zeros, one reason and no
amount on a rejection, the rights notice naming the configured 复议机关 and court on every
letter granting less than applied for or computed, bills marked 计入/不计入, delivery (送达),
GB/T 9704 layout, batch printing padded for double-sided printing."""
import io
import re
import subprocess
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from reports.models import DeliveryMethod, Letter, LetterDelivery, LetterKind, LetterOffice, LetterSequence, PrintJobStatus
from reports.pdf import render_letter_pdf
from reports.services import (
    letter_issue,
    letter_issue_from_content,
    letter_record_delivery,
    print_job_request,
    print_job_run,
)
from tests.test_scoping import assert_hidden_from

from .helpers import pdf_text

pytestmark = pytest.mark.django_db

DOC = "京医保发〔2022〕37号 北京市关于健全重特大疾病医疗保险和救助制度的实施意见"
OFFICE = "北京市朝阳区医疗保障局"


def _render(content, kind="claim_approved", number="京朝医救决〔2026〕17号") -> str:
    return pdf_text(render_letter_pdf(content, number, date(2026, 12, 7), OFFICE, "ABCDEFGHJK", kind=kind))


@pytest.fixture
def rights(district):
    return LetterOffice.objects.create(district=district, reconsideration_body="北京市朝阳区人民政府", court="北京市朝阳区人民法院")


@pytest.fixture
def full_content(approved_content):
    return dict(approved_content, policy_document=DOC, computed_amount=Decimal("16409.02"), explanation=[
        {"key": "category", "label": "救助对象类别", "value": "最低生活保障对象", "clause": "京医保发〔2022〕37号 二(一)"},
        {"key": "tier", "label": "救助档次", "value": "BJ-3 第三类救助对象", "clause": "京医保发〔2022〕37号 五(二)3"},
        {"key": "burden", "label": "政策范围内个人负担", "value": "20000.00", "clause": "京医保发〔2022〕37号 五"},
        {"key": "rate", "label": "救助比例", "value": "80%", "clause": "京医保发〔2022〕37号 五(二)2"},
        {"key": "assistance", "label": "医疗救助金额", "value": "16409.02", "clause": "京医保发〔2022〕37号 五(二)2"},
    ], clauses=["京医保发〔2022〕37号 二(一)", "京医保发〔2022〕37号 五(二)2"])


# ---------------------------------------------------------------- numbering


def test_policy_7_new_letter_number_has_no_leading_zeros_existing_keep_theirs(district, reviewer, approved_content):
    year = timezone.localdate().year
    # a letter issued before the amendment keeps the number it was printed with
    LetterSequence.objects.create(district=district, year=year, last=7)
    old = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    Letter.objects.filter(pk=old.pk).update(number=f"京朝医救决〔{year}〕00008号")
    new = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    assert new.number == f"京朝医救决〔{year}〕9号"
    assert Letter.objects.get(pk=old.pk).number == f"京朝医救决〔{year}〕00008号"
    assert new.number in pdf_text(new.file.read())


# ---------------------------------------------------------------- rejection: one reason, no amount


def test_policy_7_rejection_states_one_reason_and_no_amount(rejected_content):
    content = dict(rejected_content, reason="未按规定办理转诊", reason_clause="京医保发〔2022〕37号 十(三)", explanation=[
        {"key": "error", "label": "说明", "value": "不属于医疗救助对象或不在身份有效期内", "clause": "二"},
        {"key": "total", "label": "救助合计", "value": "6460.00", "clause": ""},
        {"key": "bucket:inpatient", "label": "年度救助限额（住院）", "value": "不设限额；本次支付 6460.00", "clause": "六"},
    ], amount=Decimal("6460.00"), bills=[dict(rejected_content["bills"][0], assistance=Decimal("6460.00"))])
    text = _render(content, kind="claim_rejected")
    assert "未按规定办理转诊" in text
    assert "不属于医疗救助对象" not in text  # the table shows the same one reason as the text
    assert "6460" not in text and "6,460" not in text
    assert "救助合计" not in text and "本次支付" not in text and "人民币" not in text
    assert "20,000.00" not in text and "30,000.00" not in text  # no bill amounts either
    assert "不计入" in text


def test_policy_7_claim_rejection_reason_is_the_reviewers_everywhere(rejected_claim, reviewer):
    bill = rejected_claim.bills.get()
    bill.computation = {"error": "not_eligible", "explanation": {"lines": [
        {"key": "error", "label": "说明", "value": "不属于医疗救助对象或不在身份有效期内", "clause": "京医保发〔2022〕37号 二"},
        {"key": "reason:non_designated", "label": "说明", "value": "非定点医药机构", "clause": "京医保发〔2022〕37号 三"},
    ]}}
    bill.total_assistance = Decimal("6460.00")
    bill.save(update_fields=["computation", "total_assistance"])
    letter = letter_issue(kind=LetterKind.CLAIM_REJECTED, claim=rejected_claim, by=reviewer)
    text = pdf_text(letter.file.read())
    assert text.count("非定点医药机构就医") >= 2  # in the sentence and in the table
    assert "不属于医疗救助对象" not in text
    assert "6460" not in text and "6,460" not in text
    assert letter.amount == Decimal("0.00")


# ---------------------------------------------------------------- rights notice


def test_policy_7_rights_notice_names_configured_bodies_on_rejection(district, reviewer, rejected_content, rights):
    rights.reconsideration_body, rights.court = "北京市朝阳区人民政府", "北京市朝阳区人民法院"
    rights.save()
    letter = letter_issue_from_content(kind=LetterKind.CLAIM_REJECTED, district=district, content=rejected_content, by=reviewer)
    text = pdf_text(letter.file.read())
    assert "60日内向北京市朝阳区人民政府申请行政复议" in text
    assert "6个月内依法向北京市朝阳区人民法院提起行政诉讼" in text
    assert letter.content["court"] == "北京市朝阳区人民法院"


def test_policy_7_rights_notice_default_office_is_derived_and_configurable(other_district, reviewer, rejected_content):
    letter = letter_issue_from_content(kind=LetterKind.CLAIM_REJECTED, district=other_district, content=rejected_content,
                                       by=_reviewer_of(other_district))
    office = LetterOffice.objects.get(district=other_district)
    assert office.reconsideration_body.endswith("海淀区人民政府") and office.court.endswith("海淀区人民法院")
    assert office.court in pdf_text(letter.file.read())


def test_policy_7_rights_notice_on_reduced_approval_below_computed(full_content):
    text = _render(dict(full_content, amount=Decimal("12000.00"), computed_amount=Decimal("16409.02"),
                        reconsideration_body="北京市朝阳区人民政府", court="北京市朝阳区人民法院"))
    assert "权利告知" in text and "北京市朝阳区人民政府申请行政复议" in text
    assert "16,409.02" in text and "12,000.00" in text


def test_policy_7_rights_notice_on_approval_leaving_out_a_bill(full_content):
    bills = full_content["bills"] + [{"settlement_no": "S00000002", "institution": "某民营诊所", "visit_type": "门诊",
                                      "admission_date": "2023-03-15", "discharge_date": "2023-03-15", "burden": "860.00",
                                      "assistance": "0.00", "not_counted_reason": "非定点医药机构"}]
    text = _render(dict(full_content, bills=bills, court="北京市朝阳区人民法院", reconsideration_body="北京市朝阳区人民政府"))
    assert "权利告知" in text and "北京市朝阳区人民法院" in text
    assert "不计入非定点医药机构" in text  # the bill's mark and its reason
    assert "计入" in text


def test_policy_7_no_rights_notice_on_full_approval(full_content):
    text = _render(dict(full_content, court="北京市朝阳区人民法院", reconsideration_body="北京市朝阳区人民政府"))
    assert "权利告知" not in text and "行政复议" not in text


# ---------------------------------------------------------------- bills 计入 / 不计入


def test_policy_7_application_letter_marks_non_designated_bill_not_counted(approved_application, reviewer, person):
    from applications.models import CountedBill
    from tests.factories import BillFactory

    for no, designated in (("S1", True), ("S2", False)):
        CountedBill.objects.create(
            application=approved_application, person=person, bill=BillFactory(person=person, district=approved_application.district),
            settlement_no=no, institution_name="某医院" if designated else "某民营诊所", designated=designated,
            visit_type="inpatient", admission_date=date(2023, 5, 1), discharge_date=date(2023, 5, 9),
            policy_scope_cost=Decimal("1000.00"), basic_paid=Decimal("0"), critical_paid=Decimal("0"), other_paid=Decimal("0"),
            assistance_paid=Decimal("0"), burden=Decimal("1000.00"), counted=designated,
            reason="" if designated else "non_designated",
        )
    letter = letter_issue(kind=LetterKind.APPLICATION_APPROVED, application=approved_application, by=reviewer)
    text = pdf_text(letter.file.read())
    assert "不计入非定点医疗机构" in text
    assert "权利告知" in text  # a bill applied for was left out: less than applied for


# ---------------------------------------------------------------- readable names, one citation, layout


def test_policy_7_no_tier_codes_and_document_cited_once_in_brackets(full_content):
    text = _render(full_content)
    assert "BJ-3" not in text and "第三类救助对象" in text
    assert text.count("京医保发〔2022〕37号") == 1
    assert "《北京市关于健全重特大疾病医疗保险和救助制度的实施意见》（京医保发〔2022〕37号）" in text


def test_policy_7_layout_gbt9704_a4_page_numbers_seal_dates_unbroken(full_content):
    pdf = render_letter_pdf(full_content, "京朝医救决〔2026〕17号", date(2026, 12, 7), OFFICE, "ABCDEFGHJK", kind="claim_approved")
    reader = PdfReader(io.BytesIO(pdf))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    layout = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert re.search(r"—\s*1\s*—", layout) and re.search(r"—\s*2\s*—", layout)  # "— 1 —", odd right, even left
    assert re.search(r"2023-03-01", layout) and "2023-03-10" in layout  # a date is never split across lines
    assert "2026年12月7日" in layout and "（印章）" in layout and OFFICE in layout
    names = {str(page["/Resources"]["/Font"][k].get_object()["/BaseFont"]).split("+")[-1] for page in reader.pages
             for k in page["/Resources"]["/Font"]}
    # 小标宋-like title (Serif Bold), 仿宋-like body (Serif Regular), 黑体-like headings (Sans Bold), embedded;
    # issue 20: the same Noto CJK SC faces cut to GB 2312 under their own names (reports/letter_fonts.py,
    # tests/reports/test_letter_fonts.py proves the layout is box for box the installed faces' layout)
    assert {"Letter-Serif-SC-Bold", "Letter-Serif-SC", "Letter-Sans-SC-Bold"} <= names


def test_policy_7_verification_link_uses_public_base_url(settings, full_content):
    settings.PUBLIC_BASE_URL = "https://yljz.example.gov.cn/"
    text = _render(full_content)
    assert "https://yljz.example.gov.cn/verify/ABCDEFGHJK" in text and "127.0.0.1" not in text


# ---------------------------------------------------------------- delivery (送达)


@pytest.fixture
def issued(district, reviewer, rejected_content, person):
    return letter_issue_from_content(kind=LetterKind.CLAIM_REJECTED, district=district, content=rejected_content, by=reviewer, person=person)


def _scan(name="receipt.pdf"):
    return SimpleUploadedFile(name, b"%PDF-1.4 receipt", content_type="application/pdf")


def test_policy_7_delivery_recorded_with_date_method_receipt(issued, caseworker):
    delivery = letter_record_delivery(letter=issued, delivered_on=issued.issued_on, method=DeliveryMethod.IN_PERSON,
                                      receipt=_scan(), by=caseworker)
    assert delivery.receipt.name.startswith(f"letters/receipts/{issued.year}/{issued.pk}.")
    with pytest.raises(ValidationError) as exc:
        letter_record_delivery(letter=issued, delivered_on=issued.issued_on, method=DeliveryMethod.POST, receipt=_scan(), by=caseworker)
    assert exc.value.code == "already_delivered"


@pytest.mark.parametrize(("days", "method", "receipt", "field", "code"), [
    (-1, DeliveryMethod.IN_PERSON, True, "delivered_on", "before_issue"),
    (1, DeliveryMethod.IN_PERSON, True, "delivered_on", "future"),
    (0, DeliveryMethod.IN_PERSON, False, "receipt", "receipt_required"),
    (0, "pigeon", True, "method", "invalid_method"),
])
def test_policy_7_delivery_bad_input_named_and_nothing_written(issued, caseworker, days, method, receipt, field, code):
    when = (issued.issued_on if days <= 0 else timezone.localdate()) + timedelta(days=days)
    with pytest.raises(ValidationError) as exc:
        letter_record_delivery(letter=issued, delivered_on=when, method=method, receipt=_scan() if receipt else None, by=caseworker)
    assert exc.value.error_dict[field][0].code == code
    assert not LetterDelivery.objects.exists()


def test_policy_7_electronic_delivery_needs_no_scan(issued, caseworker):
    letter_record_delivery(letter=issued, delivered_on=issued.issued_on, method=DeliveryMethod.ELECTRONIC, by=caseworker)
    assert LetterDelivery.objects.get().receipt.name == ""


def test_delivery_screen_records_and_list_filters_undelivered(client, caseworker, issued, district, reviewer, approved_content):
    other = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    client.force_login(caseworker)
    page = client.get(reverse("reports:letter", args=[issued.pk])).content.decode()
    assert "尚未登记送达" in page and "登记送达" in page
    resp = client.post(reverse("reports:letter_delivery", args=[issued.pk]), {
        "delivered_on": issued.issued_on.isoformat(), "method": DeliveryMethod.POST, "receipt": _scan(),
    })
    assert resp.status_code == 302
    assert LetterDelivery.objects.get().letter == issued
    page = client.get(reverse("reports:letter", args=[issued.pk])).content.decode()
    assert "邮寄送达" in page
    assert client.get(reverse("reports:letter_receipt", args=[issued.pk])).status_code == 200
    listed = client.get(reverse("reports:index"), {"undelivered": "1"}).content.decode()
    assert other.number in listed and issued.number not in listed
    listed = client.get(reverse("reports:index")).content.decode()
    assert other.number in listed and issued.number in listed


def test_delivery_hidden_outside_scope(client, other_caseworker, issued, caseworker):
    assert_hidden_from(client, other_caseworker, reverse("reports:letter_delivery", args=[issued.pk]), method="post",
                       data={"delivered_on": issued.issued_on.isoformat(), "method": DeliveryMethod.ELECTRONIC})
    assert not LetterDelivery.objects.exists()
    letter_record_delivery(letter=issued, delivered_on=issued.issued_on, method=DeliveryMethod.IN_PERSON, receipt=_scan(), by=caseworker)
    assert_hidden_from(client, other_caseworker, reverse("reports:letter_receipt", args=[issued.pk]))


def test_delivery_refused_without_role(client, auditor, issued):
    client.force_login(auditor)
    resp = client.post(reverse("reports:letter_delivery", args=[issued.pk]),
                       {"delivered_on": issued.issued_on.isoformat(), "method": DeliveryMethod.ELECTRONIC})
    assert resp.status_code == 403 and not LetterDelivery.objects.exists()


# ---------------------------------------------------------------- batch print


def test_batch_print_pads_each_letter_to_even_pages(caseworker, district, reviewer, approved_content, rejected_content):
    letters = [letter_issue_from_content(kind=k, district=district, content=c, by=reviewer)
               for k, c in ((LetterKind.CLAIM_APPROVED, approved_content), (LetterKind.CLAIM_REJECTED, rejected_content),
                            (LetterKind.CLAIM_APPROVED, approved_content))]
    counts = [len(PdfReader(io.BytesIO(x.file.open("rb").read())).pages) for x in letters]
    job = print_job_run(job_id=print_job_request(user=caseworker, issued_on=letters[0].issued_on).pk)
    assert job.status == PrintJobStatus.DONE
    reader = PdfReader(job.file.open("rb"))
    assert len(reader.pages) == sum(n + n % 2 for n in counts)
    start = 0
    for letter, n in zip(letters, counts, strict=True):  # every letter starts on a front side (odd page)
        assert start % 2 == 0 and letter.number.replace("〔", "") in reader.pages[start].extract_text().replace("\n", "").replace("〔", "")
        start += n + n % 2


def _reviewer_of(district):
    """A reviewer of ``district``: issuing a letter needs ``letters.issue`` in its district (issue 15)."""
    from organizations import roles
    from tests.factories import make_staff

    return make_staff(roles.REVIEWER, district=district)
