"""Issue 20: statistics kept current after an import that adds a large share of the bills (a
stale plan once made a caseworker's bill list take 6.3 s after a bulk write)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from claims.models import Bill
from organizations.dbstats import estimated_rows
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db


@requires_postgres
def test_issue_20_a_settlement_import_that_adds_many_bills_analyses_the_bills(district, caseworker):
    from claims.imports import COLUMNS, import_settlements
    from tests.factories import BillFactory, InstitutionFactory, PersonFactory

    institution = InstitutionFactory(district=district, designated=True)
    person = PersonFactory(hukou_district=district)
    BillFactory(person=person, district=district)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute('ANALYZE "claims_bill"')
    assert estimated_rows("claims_bill") == 1
    lines = [",".join(COLUMNS)]
    for i in range(40):
        day = date(2024, 1 + i % 12, 10)
        values = {"settlement_no": f"ST{i:04d}", "institution_code": institution.code, "id_number": person.id_number,
                  "visit_type": "outpatient", "admission_date": day.isoformat(), "discharge_date": day.isoformat(),
                  "diagnosis_code": "C34.9", "total_cost": "500.00", "policy_scope_cost": "500.00",
                  "basic_paid": str(Decimal("300.00")), "critical_paid": "0", "other_paid": "0", "assistance_paid": "",
                  "referral_compliant": "1", "in_province": "1"}
        lines.append(",".join(values[c] for c in COLUMNS))
    report = import_settlements(data=("\n".join(lines) + "\n").encode(), file_name="s.csv", by=caseworker)
    assert report.created == 40
    assert estimated_rows("claims_bill") == Bill.objects.count() == 41
