"""Issue 16: approved relief on application (依申请救助) enters payment batches like claims.

Selectable when a batch is built (nothing pre-ticked; the confirmation names the amount and the
people), paid when the batch is marked paid, shown in the batch detail, in the bank file with the
person's full account (masked on screens), its "paid" read through claims.money; a relief in one
batch cannot enter another (the database refuses it)."""
from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from applications import services as app_services
from applications.models import ReliefPayment
from claims import money, services
from claims.payments import payee_account_record
from tests.applications.workflow import receive, to_reviewing
from tests.factories import BillFactory, CertificationFactory, HouseholdFactory, PersonFactory

pytestmark = pytest.mark.django_db

RELIEF_ACCOUNT = "6217000011112222333"


@pytest.fixture
def relief(district, institution, caseworker, civil_certifier, reviewer, django_capture_on_commit_callbacks):
    """An approved relief on application (京 六(三)) of 6,000.00 with its decision letter."""
    household = HouseholdFactory(district=district)
    patient = PersonFactory(hukou_district=district, household=household, name="王建国")
    BillFactory(person=patient, institution=institution, district=district,
                admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9))
    application = to_reviewing(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    with django_capture_on_commit_callbacks(execute=True):
        app_services.application_decide(application=application, by=reviewer, approve=True)
    application.refresh_from_db()
    assert application.relief == Decimal("6000.00")
    payee_account_record(person=patient, account_name=patient.name, account_number=RELIEF_ACCOUNT, by=caseworker,
                         bank_name="建设银行")
    return application


@pytest.fixture
def claim(make_claim, person, reviewer, caseworker, django_capture_on_commit_callbacks):
    claim = make_claim()
    with django_capture_on_commit_callbacks(execute=True):
        services.claim_approve(claim=claim, reviewer=reviewer)
    claim.refresh_from_db()
    payee_account_record(person=person, account_name=person.name, account_number="6222021234567890123", by=caseworker)
    return claim


def test_h16_batch_with_a_claim_and_a_relief_bank_file_equals_batch_total_and_both_letters(
        client, caseworker, claim, relief):
    from reports.models import Letter

    batch = services.payment_batch_create(claims=[claim], reliefs=[relief], by=caseworker)
    assert batch.total_amount == claim.approved_amount + relief.relief
    client.force_login(caseworker)
    response = client.get(reverse("claims:batch_file", args=[batch.pk, "xlsx"]))
    assert response.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    lines, total_row = rows[1:-1], rows[-1]
    total = Decimal(str(total_row[5])).quantize(Decimal("0.01"))
    letters = (Letter.objects.filter(claim=claim, kind="claim_approved")
               | Letter.objects.filter(application=relief, kind="application_approved"))
    assert len(lines) == 2 == letters.count()
    assert sum(Decimal(str(r[5])).quantize(Decimal("0.01")) for r in lines) == total == batch.total_amount
    assert total == sum(letters.values_list("amount", flat=True))
    relief_line = next(r for r in lines if relief.number in r[6])
    assert relief_line[3] == RELIEF_ACCOUNT and relief_line[2] == relief.applicant.id_number  # full in the file
    assert Decimal(str(relief_line[5])) == Decimal("6000.00")
    # the download is logged for both people (PIPL) and by the audit app's export log
    from audit.models import AccessLog
    from beneficiaries.models import IdRevealLog

    logged = set(IdRevealLog.objects.filter(purpose__contains=batch.number).values_list("person_id", flat=True))
    assert logged == {claim.person_id, relief.applicant_id}
    assert AccessLog.objects.filter(user=caseworker).exists()


def test_h16_relief_is_paid_with_the_batch_and_money_reads_it(caseworker, claim, relief):
    batch = services.payment_batch_create(claims=[claim], reliefs=[relief], by=caseworker)
    assert money.relief_paid_of(relief) is None
    assert not money.applications_payable(type(relief).objects.filter(pk=relief.pk)).exists()
    services.payment_batch_mark_paid(batch=batch, reference="ICBC-1", by=caseworker)
    relief.refresh_from_db()
    batch.refresh_from_db()
    assert money.relief_paid_of(relief) == Decimal("6000.00")
    assert money.relief_paid(type(relief).objects.all()) == Decimal("6000.00")
    assert batch.total_amount == claim.approved_amount + Decimal("6000.00")
    assert relief.transitions.filter(note__contains=batch.number).exists()


def test_h16_a_relief_in_a_batch_cannot_enter_another(caseworker, claim, relief):
    first = services.payment_batch_create(reliefs=[relief], by=caseworker)
    with pytest.raises(ValidationError) as info:
        services.payment_batch_create(claims=[claim], reliefs=[relief], by=caseworker)
    assert info.value.code == "not_payable"
    services.payment_batch_mark_paid(batch=first, reference="R1", by=caseworker)
    with pytest.raises(ValidationError):
        services.payment_batch_create(reliefs=[relief], by=caseworker)
    # and the database itself refuses a second row, whatever a caller does
    second = services.payment_batch_create(claims=[claim], by=caseworker)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReliefPayment.objects.create(application=relief, batch=second, amount=relief.relief)


def test_h16_a_rejected_or_unapproved_application_is_not_payable(caseworker, district, institution, civil_certifier):
    household = HouseholdFactory(district=district)
    patient = PersonFactory(hukou_district=district, household=household)
    CertificationFactory(person=patient, valid_from=date(2022, 1, 1))
    BillFactory(person=patient, institution=institution, district=district,
                admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9))
    application = to_reviewing(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    with pytest.raises(ValidationError) as info:
        services.payment_batch_create(reliefs=[application], by=caseworker)
    assert info.value.code == "not_payable"


def test_h16_batch_screen_lists_reliefs_unticked_and_the_confirmation_names_amount_and_people(
        client, caseworker, claim, relief):
    client.force_login(caseworker)
    page = client.get(reverse("claims:batches")).content.decode()
    box = re.search(rf'<input[^>]*name="reliefs"[^>]*value="{relief.pk}"[^>]*>', page)
    assert box and "checked" not in box.group(0)
    assert "checked" not in re.search(r'<input[^>]*name="claims"[^>]*>', page).group(0)
    confirm = client.post(reverse("claims:batches"), {"claims": [claim.pk], "reliefs": [relief.pk]}).content.decode()
    total = claim.approved_amount + relief.relief
    assert f"{total:,.2f}" in confirm and relief.number in confirm and claim.number in confirm
    assert relief.applicant.name in confirm and claim.person.name in confirm
    assert relief.applicant.masked_id_number in confirm and relief.applicant.id_number not in confirm
    assert not ReliefPayment.objects.exists()
    response = client.post(reverse("claims:batches"), {"claims": [claim.pk], "reliefs": [relief.pk], "confirmed": "1"})
    payment = ReliefPayment.objects.get()
    assert response.status_code == 302 and payment.amount == relief.relief


def test_h16_batch_detail_shows_the_relief_with_a_masked_account(client, caseworker, claim, relief):
    batch = services.payment_batch_create(claims=[claim], reliefs=[relief], by=caseworker)
    client.force_login(caseworker)
    page = client.get(reverse("claims:batch", args=[batch.pk])).content.decode()
    assert relief.number in page and "6217 **** 2333" in page and RELIEF_ACCOUNT not in page
    services.payment_batch_mark_paid(batch=batch, reference="R1", by=caseworker)
    page = client.get(reverse("applications:detail", args=[relief.pk])).content.decode()
    assert "data-relief-payment" in page and batch.number in page
    ledger = client.get(reverse("claims:ledger", args=[relief.applicant_id])).content.decode()
    assert relief.number in ledger and "6,000.00" in ledger


def test_h16_other_district_cannot_batch_the_relief(client, other_caseworker, relief):
    client.force_login(other_caseworker)
    client.post(reverse("claims:batches"), {"reliefs": [relief.pk], "confirmed": "1"})
    assert not ReliefPayment.objects.exists()
    assert relief.number not in client.get(reverse("claims:batches")).content.decode()


def test_h16_bank_file_refused_when_the_relief_applicant_has_no_account(client, caseworker, relief):
    from claims.models import PayeeAccount

    batch = services.payment_batch_create(reliefs=[relief], by=caseworker)
    PayeeAccount.objects.filter(person=relief.applicant).update(active=False)
    client.force_login(caseworker)
    assert client.get(reverse("claims:batch_file", args=[batch.pk, "csv"])).status_code == 302


def test_h16_a_correction_keeps_the_open_batch_total_including_the_relief(caseworker, claim, relief):
    batch = services.payment_batch_create(claims=[claim], reliefs=[relief], by=caseworker)
    assert services.payment_batch_total(batch) == batch.total_amount
