"""Letter screens: scope, reprints, corrections, batch printing and the public verify page."""
import hashlib
import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from reports.models import Letter, LetterKind, PrintJob, PrintJobStatus
from reports.services import letter_issue, letter_issue_from_content, print_job_request

from .helpers import pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def letter(district, reviewer, approved_content, person):
    return letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer, person=person)


def _body(resp) -> bytes:
    return b"".join(resp.streaming_content) if resp.streaming else resp.content


def test_index_lists_and_searches_letters(client, caseworker, letter, district, reviewer, approved_content):
    other = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    client.force_login(caseworker)
    resp = client.get(reverse("reports:index"), {"q": f"〕{letter.seq}号"})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert letter.number in html and other.number not in html


def test_index_query_count_is_flat(client, caseworker, district, reviewer, approved_content, django_assert_max_num_queries):
    for _ in range(5):
        letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    client.force_login(caseworker)
    with django_assert_max_num_queries(12):
        resp = client.get(reverse("reports:index"))
    assert resp.content.decode().count("医救决") >= 5


def test_letters_of_another_district_are_not_visible(client, other_caseworker, letter):
    client.force_login(other_caseworker)
    assert letter.number not in client.get(reverse("reports:index")).content.decode()
    assert client.get(reverse("reports:letter", args=[letter.pk])).status_code == 404
    assert client.get(reverse("reports:letter_pdf", args=[letter.pk])).status_code == 404


def test_policy_7_reprint_is_byte_identical(client, caseworker, letter):
    client.force_login(caseworker)
    first = _body(client.get(reverse("reports:letter_pdf", args=[letter.pk])))
    second = _body(client.get(reverse("reports:letter_pdf", args=[letter.pk]), {"download": 1}))
    assert first == second
    assert hashlib.sha256(first).hexdigest() == letter.sha256


def test_detail_page(client, caseworker, letter):
    client.force_login(caseworker)
    resp = client.get(reverse("reports:letter", args=[letter.pk]))
    html = resp.content.decode()
    assert resp.status_code == 200 and letter.number in html and letter.sha256 in html
    assert "更正决定书" not in html  # a caseworker cannot correct


def test_correct_view_reviewer_only(client, caseworker, reviewer, letter):
    client.force_login(caseworker)
    assert client.post(reverse("reports:letter_correct", args=[letter.pk]), {"reason": "x"}).status_code == 403
    client.force_login(reviewer)
    ask = client.post(reverse("reports:letter_correct", args=[letter.pk]), {"reason": "金额更正"})
    assert ask.status_code == 200 and "确认更正" in ask.content.decode()  # issue 18: asks first
    assert not Letter.objects.filter(replaces=letter).exists()
    resp = client.post(reverse("reports:letter_correct", args=[letter.pk]), {"reason": "金额更正", "confirmed": "1"})
    new = Letter.objects.get(replaces=letter)
    assert resp.status_code == 302 and resp["Location"] == reverse("reports:letter", args=[new.pk])
    assert new.correction_reason == "金额更正"


def test_correct_view_without_reason_keeps_letter(client, reviewer, letter):
    client.force_login(reviewer)
    resp = client.post(reverse("reports:letter_correct", args=[letter.pk]), {"reason": ""}, follow=True)
    assert "请填写更正原因" in resp.content.decode()
    assert not Letter.objects.filter(replaces=letter).exists()


def test_correct_view_other_district_404(client, other_district, letter):
    from organizations import roles
    from tests.factories import make_staff

    other_reviewer = make_staff(roles.REVIEWER, district=other_district)
    client.force_login(other_reviewer)
    assert client.post(reverse("reports:letter_correct", args=[letter.pk]), {"reason": "x"}).status_code == 404


def test_policy_7_verify_page_shows_only_number_date_amount_office(client, letter, person):
    resp = client.get(f"/verify/{letter.verify_code}")  # anonymous
    html = resp.content.decode()
    assert resp.status_code == 200
    assert letter.number in html and letter.issued_on.strftime("%Y-%m-%d") in html
    assert "16,409.02" in html or "16409.02" in html
    assert letter.office_name in html
    for secret in ("张伟", person.name, "110105********1234", person.id_number, person.masked_id_number, "非定点", "五(二)2"):
        assert secret not in html


def test_verify_accepts_printed_grouping(client, letter):
    code = letter.verify_code.lower()
    assert client.get(f"/verify/{code[:5]}-{code[5:]}").status_code == 200


def test_verify_unknown_code_404(client, letter):
    resp = client.get("/verify/AAAAAAAAAA")
    assert resp.status_code == 404
    assert letter.number not in resp.content.decode()


def test_verify_shows_superseded(client, letter, reviewer):
    from reports.services import letter_correct

    letter_correct(letter=letter, reason="更正", by=reviewer)
    assert "已被更正" in client.get(f"/verify/{letter.verify_code}").content.decode()


def test_batch_print_of_a_day(client, caseworker, district, other_district, reviewer, approved_content, rejected_content,
                              django_capture_on_commit_callbacks):
    a = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    b = letter_issue_from_content(kind=LetterKind.CLAIM_REJECTED, district=district, content=rejected_content, by=reviewer)
    letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=other_district, content=approved_content,
                                      by=_reviewer_of(other_district))
    client.force_login(caseworker)
    with django_capture_on_commit_callbacks(execute=True):  # the task is queued on commit (eager here)
        resp = client.post(reverse("reports:print_jobs"), {"issued_on": a.issued_on.isoformat()})
    assert resp.status_code == 302
    job = PrintJob.objects.get()
    assert job.status == PrintJobStatus.DONE and job.letter_count == 2  # 京海's letter is out of scope
    data = _body(client.get(reverse("reports:print_job_pdf", args=[job.pk])))
    reader = PdfReader(io.BytesIO(data))
    pages = [len(PdfReader(io.BytesIO(x.file.open("rb").read())).pages) for x in (a, b)]
    assert len(reader.pages) == sum(n + n % 2 for n in pages)  # each letter padded to an even count
    text = pdf_text(data)
    assert text.index(a.number) < text.index(b.number)


def test_batch_print_of_a_payment_batch(caseworker, reviewer, approved_claim, district):
    from claims.models import PaymentBatch

    batch = PaymentBatch.objects.create(number="PB-1", district=district, created_by=caseworker)
    approved_claim.payment_batch = batch
    approved_claim.save(update_fields=["payment_batch"])
    letter = letter_issue(kind=LetterKind.CLAIM_APPROVED, claim=approved_claim, by=reviewer)
    from reports.services import print_job_run

    job = print_job_request(user=caseworker, payment_batch_id=batch.pk)
    job = print_job_run(job_id=job.pk)
    assert job.letter_count == 1 and letter.number in pdf_text(job.file.open("rb").read())


def test_print_job_needs_selection(caseworker):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        print_job_request(user=caseworker)
    assert exc.value.error_dict["issued_on"][0].code == "selection_required"


def test_print_job_download_is_the_requesters(client, caseworker, reviewer, letter):
    from reports.services import print_job_run

    job = print_job_run(job_id=print_job_request(user=caseworker, issued_on=letter.issued_on).pk)
    client.force_login(reviewer)
    assert client.get(reverse("reports:print_job_pdf", args=[job.pk])).status_code == 404


def test_print_jobs_page(client, caseworker, letter):
    client.force_login(caseworker)
    resp = client.get(reverse("reports:print_jobs"))
    assert resp.status_code == 200 and "批量打印" in resp.content.decode()


def test_print_task_takes_only_an_id(caseworker, letter):
    from reports.tasks import print_letters

    job = PrintJob.objects.create(requested_by=caseworker, district=letter.district, issued_on=letter.issued_on)
    assert print_letters.delay(job.pk).get() == 1


def test_home_queue_counts_todays_letters_in_scope(caseworker, other_caseworker, letter):
    from reports.queues import letter_queues

    assert letter_queues(caseworker)[0].count == 1
    assert letter_queues(other_caseworker)[0].count == 0


def test_home_queue_hidden_without_reports_role(civil_certifier):
    from reports.queues import letter_queues

    assert letter_queues(civil_certifier) == []


def test_detail_links_claim_and_application(client, reviewer, approved_claim, approved_application):
    claim_letter = letter_issue(kind=LetterKind.CLAIM_APPROVED, claim=approved_claim, by=reviewer)
    app_letter = letter_issue(kind=LetterKind.APPLICATION_APPROVED, application=approved_application, by=reviewer)
    client.force_login(reviewer)
    html = client.get(reverse("reports:letter", args=[claim_letter.pk])).content.decode()
    assert reverse("claims:detail", args=[approved_claim.pk]) in html
    html = client.get(reverse("reports:letter", args=[app_letter.pk])).content.decode()
    assert reverse("applications:detail", args=[approved_application.pk]) in html


def test_print_view_payment_batch_ignores_the_date(client, caseworker, reviewer, approved_claim, district,
                                                   django_capture_on_commit_callbacks):
    from claims.models import PaymentBatch

    batch = PaymentBatch.objects.create(number="PB-2", district=district, created_by=caseworker)
    approved_claim.payment_batch = batch
    approved_claim.save(update_fields=["payment_batch"])
    letter_issue(kind=LetterKind.CLAIM_APPROVED, claim=approved_claim, by=reviewer)
    client.force_login(caseworker)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("reports:print_jobs"), {"issued_on": "2000-01-01", "payment_batch": batch.pk})
    job = PrintJob.objects.get()
    assert job.payment_batch_id == batch.pk and job.issued_on is None
    assert job.status == PrintJobStatus.DONE and job.letter_count == 1


def test_print_view_refuses_another_districts_batch(client, other_caseworker, caseworker, district):
    from claims.models import PaymentBatch

    batch = PaymentBatch.objects.create(number="PB-3", district=district, created_by=caseworker)
    client.force_login(other_caseworker)
    assert client.post(reverse("reports:print_jobs"), {"payment_batch": batch.pk}).status_code == 404
    assert not PrintJob.objects.exists()


def _reviewer_of(district):
    """A reviewer of ``district``: issuing a letter needs ``letters.issue`` in its district (issue 15)."""
    from organizations import roles
    from tests.factories import make_staff

    return make_staff(roles.REVIEWER, district=district)
