"""对账单 per hospital and month: assistance advanced under one-stop settlement against what the
product computed, per bill; scoped like every list (issue 16)."""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from claims.imports import import_settlements
from claims.reconciliation import statement
from claims.selectors import access_bills
from tests.claims.test_imports import csv_bytes, good_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(person, institution):
    rows = [good_row(person, institution, no="R1", paid="16000.00"),
            good_row(person, institution, no="R2", paid="0", admission_date="2023-03-20", discharge_date="2023-03-25"),
            good_row(person, institution, no="R3", paid="100.00", admission_date="2023-04-02", discharge_date="2023-04-03")]
    import_settlements(data=csv_bytes(*rows), file_name="s.csv")


def test_statement_lists_advanced_against_computed_per_bill(imported, institution, caseworker):
    st = statement(bills=access_bills(caseworker), institution=institution, month=date(2023, 3, 1))
    assert [line.settlement_no for line in st.lines] == ["R1", "R2"]  # April's bill is next month's
    r1, r2 = st.lines
    assert (r1.advanced, r1.computed, r1.difference) == (Decimal("16000.00"), Decimal("17000.00"), Decimal("1000.00"))
    assert r2.advanced == Decimal("0.00") and r2.difference == r2.computed
    assert st.advanced == Decimal("16000.00") and st.difference == st.computed - st.advanced


def test_page_and_csv(client, imported, institution, caseworker):
    client.force_login(caseworker)
    url = reverse("claims:reconciliation") + f"?institution={institution.code}&month=2023-03"
    page = client.get(url).content.decode()
    assert "R1" in page and "16,000.00" in page
    rows = list(csv.reader(io.StringIO(client.get(url + "&format=csv").content.decode("utf-8-sig"))))
    assert rows[-1][0] == "合计" and Decimal(rows[-1][3]) == Decimal("16000.00")


def test_other_district_sees_an_empty_statement(client, imported, institution, other_caseworker):
    client.force_login(other_caseworker)
    page = client.get(reverse("claims:reconciliation") + f"?institution={institution.code}&month=2023-03").content.decode()
    assert "R1" not in page
