"""Fixtures for claims tests: a Beijing 低保 person (BJ-3: inpatient 85 %, cap 160,000)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.factories import CertificationFactory, InstitutionFactory, PersonFactory


@pytest.fixture
def institution(district):
    return InstitutionFactory(district=district, code="H11010500011", name="中日友好医院")


@pytest.fixture
def person(district):
    p = PersonFactory(hukou_district=district)
    CertificationFactory(person=p, valid_from=date(2022, 1, 1))
    return p


def bill_data(institution, *, burden: str = "20000.00", settlement_no: str | None = None,
              discharge: date = date(2023, 3, 10), visit_type: str = "inpatient", **extra) -> dict:
    """Bill fields whose burden (scope − basic) is ``burden``: scope = burden + 10,000 basic."""
    global _n
    _n += 1
    scope = Decimal(burden) + Decimal("10000.00")
    data = {
        "institution": institution, "settlement_no": settlement_no or f"M{_n:06d}", "visit_type": visit_type,
        "admission_date": date(discharge.year, discharge.month, 1), "discharge_date": discharge,
        "diagnosis_code": "C34.9", "diagnosis_name": "肺恶性肿瘤",
        "total_cost": scope + Decimal("1000.00"), "policy_scope_cost": scope, "basic_paid": Decimal("10000.00"),
        "critical_paid": Decimal("0.00"), "other_paid": Decimal("0.00"),
    }
    data.update(extra)
    return data


_n = 0


@pytest.fixture
def make_claim(person, district, institution, caseworker):
    from claims import services

    def make(*, bills=None, submit=True, who=None, target=None):
        target = target or person
        claim = services.claim_create(
            person=target, district=target.hukou_district, applied_on=date(2023, 4, 1), by=who or caseworker,
            bills=bills if bills is not None else [bill_data(institution)], payee_account="6222 **** 1234",
        )
        if submit:
            services.claim_submit(claim=claim, by=who or caseworker)
            claim.refresh_from_db()
        return claim

    return make
