from __future__ import annotations

from datetime import date

import pytest

from organizations import roles
from organizations.models import AgencyKind


@pytest.fixture(autouse=True)
def _fresh_preview_rate_limit():
    """The roster preview rate limit (5 a minute per user id, in the cache) must not carry over
    from one test to the next: on SQLite a rolled-back test's user id is given again, so six
    uploads of several tests within one calendar minute refused the sixth."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def civil_agency(civil_certifier):
    return civil_certifier.staff_profile.agency


@pytest.fixture
def veterans_certifier(district):
    from tests.factories import make_staff

    return make_staff(roles.CERTIFIER, district=district, agency_kind=AgencyKind.VETERANS_AFFAIRS, username="veterans-certifier")


@pytest.fixture
def other_civil_certifier(other_district):
    from tests.factories import make_staff

    return make_staff(roles.CERTIFIER, district=other_district, agency_kind=AgencyKind.CIVIL_AFFAIRS, username="haidian-civil")


@pytest.fixture
def person(district):
    from tests.factories import PersonFactory

    return PersonFactory(hukou_district=district, name="刘建国")


@pytest.fixture
def other_person(other_district):
    from tests.factories import PersonFactory

    return PersonFactory(hukou_district=other_district, name="何海波")


def roster_csv(rows, header="id_number,name,category,valid_from,valid_until,document_ref") -> bytes:
    lines = [header] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


D = date


@pytest.fixture
def categories(db):
    """The §2 categories, reloaded if a transactional test's flush removed the migration's rows."""
    import importlib

    from beneficiaries.models import Category

    module = importlib.import_module("beneficiaries.migrations.0002_categories")
    for order, (code, name, agency, co_agency) in enumerate(module.CATEGORIES, start=1):
        Category.objects.get_or_create(code=code, defaults={"name": name, "agency_kind": agency,
                                                            "co_agency_kind": co_agency, "sort_order": order})
    return Category.objects.all()


@pytest.fixture
def ningbo(db):
    """海曙区 in 宁波市 (region installed with the ningbo-2019 preset, the only one with a §5 timing
    rule), with the 2024 and 2025 resident contributions recorded."""
    from decimal import Decimal

    from organizations.models import District, Region, RegionStatistic

    region = Region.objects.get(code="330200")
    district = District.objects.create(region=region, code="330203", name="海曙区", short_name="甬海")
    for year, amount in ((2023, "350.00"), (2024, "380.00"), (2025, "400.00")):
        RegionStatistic.objects.update_or_create(region=region, year=year, defaults={"resident_contribution": Decimal(amount)})
    return district
