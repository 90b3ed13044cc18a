"""Fixtures for 依申请救助: a household with a patient, staff of each role, scenario builder."""
from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from beneficiaries.models import Relation
from organizations import roles
from policies.scenario_files import read_scenario
from tests.factories import (
    BillFactory,
    DistrictFactory,
    HouseholdFactory,
    InstitutionFactory,
    PersonFactory,
    RegionFactory,
    make_staff,
)

CASES = Path(settings.SCENARIOS_DIR)  # the project's own scenarios (policies/scenarios)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    yield
    shutil.rmtree(tmp_path / "media", ignore_errors=True)


@pytest.fixture
def household(district):
    h = HouseholdFactory(district=district, address="朝阳区幸福里1号")
    return h


@pytest.fixture
def patient(household, district):
    return PersonFactory(hukou_district=district, household=household, relation=Relation.HEAD, name="王建国")


@pytest.fixture
def spouse(household, district):
    return PersonFactory(hukou_district=district, household=household, relation=Relation.SPOUSE, name="李秀英")


@pytest.fixture
def hospital(district):
    return InstitutionFactory(district=district, designated=True, name="朝阳医院")


@pytest.fixture
def civil_certifier_other(other_district):
    return make_staff(roles.CERTIFIER, district=other_district, agency_kind="civil_affairs", username="civil-other")


@pytest.fixture
def other_reviewer(district):
    return make_staff(roles.REVIEWER, district=district, username="reviewer-2")


def receipt(name: str = "receipt.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4 receipt", content_type="application/pdf")


def bill(person, institution, **kwargs):
    kwargs.setdefault("district", person.hukou_district)
    return BillFactory(person=person, institution=institution, **kwargs)


def money(value: str) -> Decimal:
    return Decimal(value)


# ----------------------------------------------------------------------------------------------
# Scenario files → database rows
# ----------------------------------------------------------------------------------------------

SCENARIO_REGIONS = {
    "beijing-2023": ("110000", "北京市", "京", "110105", "朝阳区", "京朝"),
    "ningbo-2019": ("330200", "宁波市", "甬", "330203", "海曙区", "甬海"),
}


def load_case(name: str) -> dict:
    return read_scenario(CASES / f"{name}.yaml")


def build_case(case: dict):
    """Household, persons, certifications other than the one the assessment grants, bills.

    Returns (district, household, patient, {bill id: Bill}, staff dict)."""
    from beneficiaries.models import Category, Certification
    from tests.factories import AgencyFactory

    r_code, r_name, r_short, d_code, d_name, d_short = SCENARIO_REGIONS[case["policy"]]
    region = RegionFactory(code=r_code, name=r_name, short_name=r_short)
    district = DistrictFactory(code=d_code, name=d_name, short_name=d_short, region=region)
    household = HouseholdFactory(district=district)
    designated = InstitutionFactory(district=district, designated=True)
    elsewhere = InstitutionFactory(district=district, designated=False)
    patient = None
    bills = {}
    for member in case["household"]:
        is_patient = member["role"] == "patient"
        person = PersonFactory(hukou_district=district, household=household,
                               relation=Relation.HEAD if is_patient else Relation.SPOUSE)
        if is_patient:
            patient = person
        for cert in member.get("certifications", []):
            if is_patient and cert["category"] == "illness_poverty_patient":
                continue  # granted by the civil-affairs assessment in the workflow
            category = Category.objects.get(code=cert["category"])
            Certification.objects.create(
                person=person, category=category,
                agency=AgencyFactory(kind=category.agency_kind, district=district, region=region),
                valid_from=date.fromisoformat(cert["valid_from"]),
                valid_until=date.fromisoformat(cert["valid_until"]) if cert.get("valid_until") else None,
            )
        for raw in member.get("bills", []):
            flags = {"designated": True, "referral_compliant": True, "in_province": True, **raw.get("flags", {})}
            bills[raw["id"]] = BillFactory(
                person=person, district=district, institution=designated if flags["designated"] else elsewhere,
                visit_type=raw["visit_type"], admission_date=date.fromisoformat(raw["start"]),
                discharge_date=date.fromisoformat(raw["end"]), total_cost=Decimal(raw["total_cost"]),
                policy_scope_cost=Decimal(raw["policy_scope_cost"]), basic_paid=Decimal(raw["basic_paid"]),
                critical_paid=Decimal(raw["critical_paid"]), other_paid=Decimal(raw["other_paid"]),
                referral_compliant=flags["referral_compliant"], in_province=flags["in_province"],
                major_disease=flags.get("major_disease", False), rare_disease=flags.get("rare_disease", False),
            )
    staff = {
        "caseworker": make_staff(roles.CASEWORKER, district=district),
        "certifier": make_staff(roles.CERTIFIER, district=district, agency_kind="civil_affairs"),
        "reviewer": make_staff(roles.REVIEWER, district=district),
    }
    return district, household, patient, bills, staff
