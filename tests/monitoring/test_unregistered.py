"""因病致贫 warnings see everyone the platform settles (国办 五(七); POLICY.md §9, issue 13).

Settlement records of people not yet registered are imported as non-beneficiaries (file import
and the hospital API); the nightly run then warns 因病致贫 when the individual's annual burden
passes the threshold (50% × 77,415 = 38,707.50 for 2023 in this Beijing world). The fund report
does not count them as assisted persons (their assistance is 0). On the old code the rows were
rejected, so nobody was warned: every test here fails there.
"""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from beneficiaries import idnumber
from beneficiaries.models import Person
from claims.imports import COLUMNS, import_settlements
from monitoring import services
from monitoring.models import EarlyWarning, RunTrigger
from tests.factories import InstitutionFactory

pytestmark = pytest.mark.django_db

HEADER = ",".join((*COLUMNS, "psn_name"))
HEAVY = idnumber.make("110105", date(1970, 5, 5), 311)  # burden 50,000 > 38,707.50
LIGHT = idnumber.make("110105", date(1975, 6, 6), 312)  # burden 20,000 < 38,707.50


def line(number: str, no: str, name: str, *, scope: str, basic: str, inst_code: str) -> str:
    values = {
        "settlement_no": no, "institution_code": inst_code, "id_number": number, "visit_type": "inpatient",
        "admission_date": "2023-05-01", "discharge_date": "2023-05-20", "diagnosis_code": "C34.9",
        "total_cost": scope, "policy_scope_cost": scope, "basic_paid": basic, "critical_paid": "0", "other_paid": "0",
        "assistance_paid": "", "referral_compliant": "1", "in_province": "1",
    }
    return ",".join([*(values[c] for c in COLUMNS), name])


def settlements_file(institution) -> bytes:
    rows = [line(HEAVY, "N1", "赵大", scope="80000.00", basic="30000.00", inst_code=institution.code),
            line(LIGHT, "N2", "钱二", scope="30000.00", basic="10000.00", inst_code=institution.code)]
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def nightly():
    run = services.run_synchronously(trigger=RunTrigger.NIGHTLY)
    assert run.status == "succeeded", run.errors
    return run


@pytest.fixture
def institution(district):
    return InstitutionFactory(district=district, code="H11010500011", name="中日友好医院")


def test_gb_5_7_unregistered_non_beneficiary_above_threshold_warned_after_nightly_run(world, institution):
    nightly()  # the previous night: Bob (a registered non-beneficiary) is warned already
    assert EarlyWarning.objects.count() == 1
    report = import_settlements(data=settlements_file(institution), file_name="s.csv")
    assert (report.created, report.unregistered) == (2, 2)
    run = nightly()  # incremental: the imported bills are what was touched
    assert not run.full and run.warnings_created == 1
    heavy = Person.objects.get(id_number=HEAVY)
    warning = EarlyWarning.objects.get(person=heavy)
    assert (warning.kind, warning.year, warning.status, warning.household_id) == (
        "illness_poverty", 2023, "open", heavy.household_id)
    assert (warning.burden, warning.threshold, warning.household_burden) == (
        Decimal("50000.00"), Decimal("38707.50"), Decimal("50000.00"))
    light = Person.objects.get(id_number=LIGHT)
    assert not EarlyWarning.objects.filter(household_id=light.household_id).exists()
    nightly()  # created once
    assert EarlyWarning.objects.filter(person=heavy).count() == 1


def test_gb_5_7_api_unregistered_settlement_warned_after_nightly_run(world, institution, client):
    from api import services as api_services

    hospital, token = api_services.api_client_create(name="HIS", institution=institution, rate_limit=1000)
    nightly()
    payload = {"setl_id": "A1", "psn_name": "赵大", "certno": HEAVY, "begndate": "2023-05-01", "enddate": "2023-05-20",
               "med_type": "21", "medfee_sumamt": "80000.00", "inscp_scp_amt": "80000.00", "hifp_pay": "30000.00"}
    response = client.post("/api/v1/settlements", json.dumps(payload), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 201 and response.json()["total_assistance"] == "0.00"
    nightly()
    warning = EarlyWarning.objects.get(person__id_number=HEAVY)
    assert (warning.kind, warning.burden) == ("illness_poverty", Decimal("50000.00"))


def test_gb_5_7_unregistered_fund_report_person_counts_unchanged(world, institution, admin_user):
    """The fund report (reports.FundMonth, fed by triggers) counts assisted persons: people
    imported as non-beneficiaries get 0 and are not among them; the pre-aggregate agrees."""
    from reports import aggregate, reporting
    from reports.models import FundMonth

    nightly()

    def fund():
        table = reporting.fund_expenditure(admin_user, {"year": 2023, "month": None, "district": None})
        return table.rows, table.totals

    before = fund()
    report = import_settlements(data=settlements_file(institution), file_name="s.csv")
    assert report.created == 2 and report.unregistered == 2
    nightly()
    assert fund() == before
    strangers = list(Person.objects.filter(registration_source="settlement_file").values_list("pk", flat=True))
    assert len(strangers) == 2 and not FundMonth.objects.filter(person_id__in=strangers).exists()
    assert aggregate.check() == []
