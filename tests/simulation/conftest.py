"""Fixtures of the simulation tests: the whole demo, plus one BJ-3 patient whose stays exceed the
160,000 yuan inpatient cap in the demo year (so raising the cap has someone to gain)."""
from __future__ import annotations

import copy
import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from organizations import roles
from tests.factories import BillFactory, CertificationFactory, HouseholdFactory, PersonFactory, category, make_staff

DEMO_YEAR = 2024


@pytest.fixture
def demo(db):
    from organizations.models import District

    call_command("seed_demo", only=["organizations", "policies", "beneficiaries", "claims", "applications"], stdout=io.StringIO())
    chaoyang = District.objects.get(code="110105")
    household = HouseholdFactory(district=chaoyang)
    patient = PersonFactory(hukou_district=chaoyang, household=household, relation="head", name="测算高额患者")
    CertificationFactory(person=patient, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    from organizations.models import Institution

    hospital = Institution.objects.get(code="H11010500011")
    for month in (2, 5, 9):
        BillFactory(person=patient, district=chaoyang, institution=hospital, admission_date=date(DEMO_YEAR, month, 1),
                    discharge_date=date(DEMO_YEAR, month, 20), total_cost=Decimal("150000.00"),
                    policy_scope_cost=Decimal("140000.00"), basic_paid=Decimal("60000.00"), status="recorded")
    return {"chaoyang": chaoyang, "patient": patient}


@pytest.fixture
def admin_user(demo):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="admin")


@pytest.fixture
def city_admin(demo):
    """A non-superuser administrator at Beijing city level."""
    user = make_staff(roles.ADMINISTRATOR, district=demo["chaoyang"], city_level=True, username="bj-city-admin")
    return user


def raised_cap_rules(policy, cap: str = "200000.00") -> dict:
    rules = copy.deepcopy(policy.rules)
    for tier in rules["tiers"]:
        if tier["code"] == "BJ-3":
            tier["buckets"]["inpatient"]["cap"] = cap
    return rules


@pytest.fixture
def beijing_policy(demo):
    from policies.models import Policy

    return Policy.objects.get(code="beijing-2023", is_current=True)
