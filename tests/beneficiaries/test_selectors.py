from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from beneficiaries import selectors
from organizations import roles
from organizations.models import District, Region, RegionStatistic
from tests.factories import CertificationFactory, PersonFactory, category, make_staff

pytestmark = pytest.mark.django_db


def test_access_persons_is_scoped_to_district(caseworker, other_caseworker, person, other_person):
    assert list(selectors.access_persons(caseworker)) == [person]
    assert list(selectors.access_persons(other_caseworker)) == [other_person]


def test_city_level_auditor_sees_region(auditor, person, other_person):
    assert set(selectors.access_persons(auditor)) == {person, other_person}


def test_user_without_profile_sees_nothing(person):
    from tests.factories import UserFactory

    assert not selectors.access_persons(UserFactory()).exists()


def test_certifier_sees_only_own_kind_certifications_medsec_sees_all(civil_certifier, veterans_certifier, caseworker, person):
    civil = CertificationFactory(person=person, category=category("minimum_living"))
    veteran = CertificationFactory(person=person, category=category("entitled_group"))
    assert list(selectors.access_certifications(civil_certifier)) == [civil]
    assert list(selectors.access_certifications(veterans_certifier)) == [veteran]
    assert set(selectors.access_certifications(caseworker)) == {civil, veteran}


def test_policy_2_several_identities_highest_benefit_is_marked(caseworker, person):
    """Beijing: minimum_living (BJ-3, 85%) beats entitled_group (no tier in Beijing)."""
    certs = [CertificationFactory(person=person, category=category("entitled_group"), valid_from=date(2023, 1, 1)),
             CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2023, 1, 1)),
             CertificationFactory(person=person, category=category("extreme_poverty"), valid_from=date(2020, 1, 1),
                                  valid_until=date(2022, 12, 31))]
    rows, policy = selectors.identity_benefits(person=person, certifications=certs, on=date(2024, 6, 1))
    assert policy is not None and policy.code == "beijing-2023"
    by_code = {r.certification.category.code: r for r in rows}
    assert set(by_code) == {"entitled_group", "minimum_living"}  # the ended identity is not current
    assert by_code["minimum_living"].best and by_code["minimum_living"].sample_assistance == Decimal("8500.00")
    assert not by_code["entitled_group"].best


@pytest.fixture
def wuxi():
    region = Region.objects.get(code="320200")  # installed with the wuxi-2023 preset
    district = District.objects.create(region=region, code="320205", name="锡山区", short_name="锡锡")
    RegionStatistic.objects.update_or_create(region=region, year=2024, defaults={"resident_contribution": Decimal("380.00")})
    return district


def test_policy_5_premium_subsidy_roster_highest_wins(wuxi):
    user = make_staff(roles.CASEWORKER, district=wuxi)
    full = PersonFactory(hukou_district=wuxi, insured_region=wuxi.region)
    both = PersonFactory(hukou_district=wuxi, insured_region=wuxi.region)
    fraction = PersonFactory(hukou_district=wuxi, insured_region=wuxi.region)
    ended = PersonFactory(hukou_district=wuxi, insured_region=wuxi.region)
    none = PersonFactory(hukou_district=wuxi, insured_region=wuxi.region)
    CertificationFactory(person=full, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    CertificationFactory(person=both, category=category("marginal_family"), valid_from=date(2023, 1, 1))
    CertificationFactory(person=both, category=category("extreme_poverty"), valid_from=date(2024, 5, 1))  # gained mid-year
    CertificationFactory(person=fraction, category=category("severe_disability"), valid_from=date(2024, 1, 1))
    CertificationFactory(person=ended, category=category("minimum_living"), valid_from=date(2020, 1, 1),
                         valid_until=date(2023, 12, 31))
    CertificationFactory(person=none, category=category("hardship_allowance"), valid_from=date(2023, 1, 1))
    rows = {r.person_id: r for r in selectors.premium_subsidy_roster(user=user, region=wuxi.region, year=2024)}
    assert set(rows) == {full.pk, both.pk, fraction.pk}
    assert (rows[full.pk].kind, rows[full.pk].amount) == ("full", Decimal("380.00"))
    assert (rows[both.pk].category, rows[both.pk].kind, rows[both.pk].qualifying_date) == ("extreme_poverty", "full", date(2024, 5, 1))
    assert (rows[fraction.pk].kind, rows[fraction.pk].share, rows[fraction.pk].amount) == ("fraction", Decimal("1.00"), Decimal("380.00"))
    assert rows[full.pk].masked_id_number == full.masked_id_number


def test_premium_subsidy_roster_without_contribution_has_no_amount(wuxi):
    user = make_staff(roles.CASEWORKER, district=wuxi)
    p = PersonFactory(hukou_district=wuxi, insured_region=wuxi.region)
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    rows = selectors.premium_subsidy_roster(user=user, region=wuxi.region, year=2025)
    assert rows[0].amount is None and rows[0].kind == "full"


def test_premium_subsidy_roster_is_scoped(wuxi, caseworker):
    p = PersonFactory(hukou_district=wuxi, insured_region=wuxi.region)
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    assert selectors.premium_subsidy_roster(user=caseworker, region=wuxi.region, year=2024) == []
