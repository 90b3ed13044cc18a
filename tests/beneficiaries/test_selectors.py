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


# -- §5 Ningbo timing (甬医保发〔2019〕27号 三(一)): subsidised in the month of approval, covered from the
# next month; one who already paid this year is subsidised from next year ----------------------------


def _ningbo_person(ningbo, paid=None):
    return PersonFactory(hukou_district=ningbo, insured_region=ningbo.region, contribution_paid_year=paid)


def _roster(user, district, year):
    return {r.person_id: r for r in selectors.premium_subsidy_roster(user=user, region=district.region, year=year)}


@pytest.mark.parametrize("approved_on", [date(2024, 1, 1), date(2024, 5, 10), date(2024, 12, 31)])
@pytest.mark.parametrize("paid", [2024, 2025])  # the latest year paid: paying 2025 in the autumn keeps 2024 paid
def test_policy_5_ningbo_timing_already_paid_is_subsidised_next_year(ningbo, approved_on, paid):
    user = make_staff(roles.CASEWORKER, district=ningbo)
    p = _ningbo_person(ningbo, paid=paid)
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=approved_on)
    assert p.pk not in _roster(user, ningbo, 2024)
    row = _roster(user, ningbo, 2025)[p.pk]  # entitled on 1 January 2025: an ordinary year
    assert (row.kind, row.amount, row.qualifying_date, row.covered_from, row.timing_clause) == (
        "full", Decimal("400.00"), date(2025, 1, 1), None, "")


@pytest.mark.parametrize(("approved_on", "covered_from"), [
    (date(2024, 1, 1), date(2024, 2, 1)),
    (date(2024, 5, 10), date(2024, 6, 1)),
    (date(2024, 2, 29), date(2024, 3, 1)),
])
@pytest.mark.parametrize("paid", [None, 2023])
def test_policy_5_ningbo_timing_new_beneficiary_covered_from_next_month(ningbo, approved_on, covered_from, paid):
    user = make_staff(roles.CASEWORKER, district=ningbo)
    p = _ningbo_person(ningbo, paid=paid)
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=approved_on)
    row = _roster(user, ningbo, 2024)[p.pk]
    assert (row.kind, row.amount, row.qualifying_date, row.covered_from) == ("full", Decimal("380.00"), approved_on, covered_from)
    assert "当月资助参保，次月生效" in row.timing_clause and row.clause.startswith("甬医保发〔2019〕27号 三(一) 第1、2、7类")
    assert row.clauses == f"{row.clause}；{row.timing_clause}"


def test_policy_5_ningbo_timing_december_approval_is_next_years_contribution_once(ningbo):
    """当月资助参保，次月生效: approved 15 December 2024 (not paid), covered from 1 January 2025, so
    the subsidy is 2025's contribution: on the 2025 roster only, not on 2024's as well."""
    user = make_staff(roles.CASEWORKER, district=ningbo)
    p = _ningbo_person(ningbo, paid=None)
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=date(2024, 12, 15))
    assert p.pk not in _roster(user, ningbo, 2024)
    row = _roster(user, ningbo, 2025)[p.pk]
    assert (row.kind, row.amount, row.qualifying_date) == ("full", Decimal("400.00"), date(2025, 1, 1))


def test_policy_5_ningbo_timing_jan_1_entitled_keeps_subsidy(ningbo):
    """Already paid 2024 and newly 低保 in May: the 低保边缘 identity held on 1 January still gives
    50%; the full subsidy of the new identity waits for 2025 (highest wins only over allowed days)."""
    user = make_staff(roles.CASEWORKER, district=ningbo)
    p = _ningbo_person(ningbo, paid=2024)
    CertificationFactory(person=p, category=category("marginal_family"), valid_from=date(2022, 3, 1),
                         valid_until=date(2024, 5, 9))
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=date(2024, 5, 10))
    row = _roster(user, ningbo, 2024)[p.pk]
    assert (row.category, row.kind, row.share, row.amount) == ("marginal_family", "fraction", Decimal("0.50"), Decimal("190.00"))
    assert (row.qualifying_date, row.covered_from) == (date(2024, 1, 1), None)
    assert "当年已参保的次年资助" in row.timing_clause  # the rule lowered the subsidy: cited
    row = _roster(user, ningbo, 2025)[p.pk]
    assert (row.category, row.kind, row.qualifying_date) == ("minimum_living", "full", date(2025, 1, 1))


def test_policy_5_ningbo_timing_full_since_last_year_is_not_cited(ningbo):
    """A deferred identity that would not have paid more is not cited: the row is an ordinary one."""
    user = make_staff(roles.CASEWORKER, district=ningbo)
    p = _ningbo_person(ningbo, paid=2024)
    CertificationFactory(person=p, category=category("entitled_group"), valid_from=date(2021, 1, 1))
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=date(2024, 5, 10))
    row = _roster(user, ningbo, 2024)[p.pk]
    assert (row.category, row.kind, row.qualifying_date, row.covered_from, row.timing_clause) == (
        "entitled_group", "full", date(2024, 1, 1), None, "")


def test_policy_5_ningbo_timing_approved_last_year_after_paying_is_subsidised_this_year(ningbo):
    user = make_staff(roles.CASEWORKER, district=ningbo)
    p = _ningbo_person(ningbo, paid=2023)
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=date(2023, 10, 8))
    assert p.pk not in _roster(user, ningbo, 2023)
    row = _roster(user, ningbo, 2024)[p.pk]
    assert (row.kind, row.amount, row.qualifying_date, row.covered_from, row.timing_clause) == (
        "full", Decimal("380.00"), date(2024, 1, 1), None, "")


def test_policy_5_ningbo_timing_later_mid_year_identity_is_not_deferred_without_payment(ningbo):
    """Not paid: 低保边缘 since 2022 (50%), 低保 from May (full, covered from June) wins."""
    user = make_staff(roles.CASEWORKER, district=ningbo)
    p = _ningbo_person(ningbo, paid=2023)
    CertificationFactory(person=p, category=category("marginal_family"), valid_from=date(2022, 3, 1))
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=date(2024, 5, 10))
    row = _roster(user, ningbo, 2024)[p.pk]
    assert (row.category, row.kind, row.qualifying_date, row.covered_from) == ("minimum_living", "full", date(2024, 5, 10), date(2024, 6, 1))


def test_policy_5_wuxi_has_no_timing_rule_paid_is_still_subsidised(wuxi):
    user = make_staff(roles.CASEWORKER, district=wuxi)
    p = PersonFactory(hukou_district=wuxi, insured_region=wuxi.region, contribution_paid_year=2024)
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=date(2024, 5, 10))
    row = _roster(user, wuxi, 2024)[p.pk]
    assert (row.kind, row.amount, row.qualifying_date, row.covered_from, row.timing_clause) == (
        "full", Decimal("380.00"), date(2024, 5, 10), None, "")
    assert row.clauses == row.clause


def test_issue_20_premium_subsidy_roster_decrypts_only_the_people_it_lists(wuxi, monkeypatch):
    """The roster behind the subsidy and uninsured reports read every certified person as model
    instances with their name and ID number decrypted (18-20 s a request at 200,000 people);
    it now reads plain rows and decrypts only the people who get a subsidy."""
    from organizations import fieldcrypto

    user = make_staff(roles.CASEWORKER, district=wuxi)
    listed = PersonFactory(hukou_district=wuxi, insured_region=wuxi.region)
    CertificationFactory(person=listed, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    for _ in range(5):  # certified, but no subsidy (hardship allowance has no subsidy rule in Wuxi)
        CertificationFactory(person=PersonFactory(hukou_district=wuxi, insured_region=wuxi.region),
                             category=category("hardship_allowance"), valid_from=date(2023, 1, 1))
    calls = []
    real = fieldcrypto.decrypt
    monkeypatch.setattr(fieldcrypto, "decrypt", lambda stored: calls.append(stored) or real(stored))
    rows = selectors.premium_subsidy_roster(user=user, region=wuxi.region, year=2024)
    assert [r.person_id for r in rows] == [listed.pk]
    assert (rows[0].name, rows[0].masked_id_number, rows[0].district) == (listed.name, listed.masked_id_number, wuxi.name)
    assert len(calls) <= 2  # the listed person's name and ID number; nobody else's
