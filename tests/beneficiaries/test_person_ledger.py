"""The person page shows the annual ledger (年度累计) to medical-security staff (issue 5)."""
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from claims.services import recompute_person_year
from tests.factories import BillFactory, CertificationFactory, PersonFactory


@pytest.fixture
def person_with_outpatient_bill(district):
    person = PersonFactory(hukou_district=district)
    CertificationFactory(person=person, valid_from=date(2023, 1, 1))
    # 低保 outpatient 80%: burden 4,000 → 3,200 of the 8,000 outpatient cap (京医保发〔2022〕37号 六(一)3)
    BillFactory(person=person, visit_type="outpatient", admission_date=date(2023, 3, 1), discharge_date=date(2023, 3, 1),
                total_cost=Decimal("4100.00"), policy_scope_cost=Decimal("4100.00"), basic_paid=Decimal("100.00"))
    recompute_person_year(person_id=person.pk, year=2023)
    return person


@pytest.mark.django_db
def test_person_page_shows_the_annual_ledger_to_medical_security(client, caseworker, person_with_outpatient_bill):
    client.force_login(caseworker)
    response = client.get(reverse("beneficiaries:person_detail", args=[person_with_outpatient_bill.pk]))
    assert response.status_code == 200
    ledger_years = response.context["ledger_years"]
    year = next(y for y in ledger_years if y["year"] == 2023)
    outpatient = next(b for b in year["buckets"] if b["cap"] == Decimal("8000.00"))
    assert outpatient["used"] == Decimal("3200.00")
    assert outpatient["room"] == Decimal("4800.00")


@pytest.mark.django_db
def test_person_page_hides_the_ledger_from_a_civil_affairs_certifier(client, civil_certifier, person_with_outpatient_bill):
    client.force_login(civil_certifier)
    response = client.get(reverse("beneficiaries:person_detail", args=[person_with_outpatient_bill.pk]))
    assert response.status_code == 200
    assert "ledger_years" not in response.context
