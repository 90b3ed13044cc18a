"""Payment files (issue 16): a batch downloads as the bank / 一卡通 file whose total equals the
batch and the decision letters; accounts masked on screens; each download logged per person."""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from beneficiaries.models import IdRevealLog
from claims import services
from claims.payments import mask_account, payee_account_record
from reports.capitals import amount_in_capitals, parse_capitals
from tests.factories import CertificationFactory, PersonFactory

from .conftest import bill_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_batch(make_claim, reviewer, caseworker, person, district, institution, django_capture_on_commit_callbacks):
    second = PersonFactory(hukou_district=district)
    CertificationFactory(person=second, valid_from=date(2022, 1, 1))
    claims = [make_claim(), make_claim(target=second, bills=[bill_data(institution, burden="5000.00")])]
    with django_capture_on_commit_callbacks(execute=True):
        for claim in claims:
            services.claim_approve(claim=claim, reviewer=reviewer)
    for claim in claims:
        claim.refresh_from_db()
    payee_account_record(person=person, account_name=person.name, account_number="6222 0212 3456 7890 123", by=caseworker,
                         bank_name="工商银行")
    payee_account_record(person=second, account_name=second.name, account_number="9001234567890123", by=caseworker,
                         kind="card")
    return services.payment_batch_create(claims=claims, by=caseworker)


def login(client, user):
    client.force_login(user)


def test_bank_file_total_equals_the_batch_and_the_letters(client, caseworker, paid_batch):
    from reports.models import Letter

    login(client, caseworker)
    response = client.get(reverse("claims:batch_file", args=[paid_batch.pk, "xlsx"]))
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("序号", "户名", "身份证号", "账号/卡号", "开户行", "金额", "摘要")
    lines, total_row = rows[1:-1], rows[-1]
    amounts = [Decimal(str(r[5])).quantize(Decimal("0.01")) for r in lines]
    total = Decimal(str(total_row[5])).quantize(Decimal("0.01"))
    letters = Letter.objects.filter(claim__payment_batch=paid_batch, kind="claim_approved")
    assert len(lines) == 2 == letters.count()
    assert sum(amounts) == total == paid_batch.total_amount == sum(letters.values_list("amount", flat=True))
    assert total_row[0] == "合计" and parse_capitals(total_row[4].removeprefix("大写：")) == total
    assert amount_in_capitals(total) in total_row[4]
    assert {r[3] for r in lines} == {"6222021234567890123", "9001234567890123"}  # full numbers, as text
    assert all(isinstance(r[2], str) and len(r[2]) == 18 for r in lines)


def test_csv_file_has_the_same_lines(client, caseworker, paid_batch):
    login(client, caseworker)
    text = client.get(reverse("claims:batch_file", args=[paid_batch.pk, "csv"])).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[-1][0] == "合计" and Decimal(rows[-1][5]) == paid_batch.total_amount
    assert sum(Decimal(r[5]) for r in rows[1:-1]) == paid_batch.total_amount


def test_every_download_is_logged_per_person(client, caseworker, paid_batch):
    login(client, caseworker)
    client.get(reverse("claims:batch_file", args=[paid_batch.pk, "csv"]))
    assert IdRevealLog.objects.filter(user=caseworker, purpose__contains=paid_batch.number).count() == 2


def test_a_person_without_an_account_refuses_the_file(client, caseworker, paid_batch, person):
    from claims.models import PayeeAccount

    PayeeAccount.objects.filter(person=person).update(active=False)
    login(client, caseworker)
    response = client.get(reverse("claims:batch_file", args=[paid_batch.pk, "xlsx"]))
    assert response.status_code == 302 and not IdRevealLog.objects.exists()


def test_other_district_gets_404(client, other_caseworker, paid_batch):
    login(client, other_caseworker)
    assert client.get(reverse("claims:batch_file", args=[paid_batch.pk, "xlsx"])).status_code == 404


def test_accounts_are_masked_and_a_new_one_ends_the_old(person, caseworker):
    first = payee_account_record(person=person, account_name="张三", account_number="6222021234567890123", by=caseworker)
    assert mask_account(first.account_number) == "6222 **** 0123" and "567890" not in str(first)
    second = payee_account_record(person=person, account_name="张三", account_number="6222029999999999", by=caseworker)
    first.refresh_from_db()
    assert (first.active, second.active) == (False, True)
    with pytest.raises(ValidationError):
        payee_account_record(person=person, account_name="张三", account_number="12ab", by=caseworker)
