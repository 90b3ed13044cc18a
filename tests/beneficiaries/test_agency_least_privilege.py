"""Issue 15, "least privilege per role and agency": a certifier sees the persons of their agency's
categories (certified by their agency or of a category it owns or co-certifies) and those they are
asked to certify (the person they registered, the households civil affairs is asked to assess or
handle a warning of), never another agency's person of the same district: not in the list, the
detail, the name or ID search, the global search, an export or the API. Medical-security staff
still see every person of their district. The rule lives in ``organizations.access`` +
``beneficiaries.selectors.access_persons``; the services re-check through the same selector.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from beneficiaries import selectors, services
from beneficiaries.models import Household, Person
from tests.factories import AgencyFactory, CertificationFactory, PersonFactory, category

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(district, categories):
    veterans = AgencyFactory(kind="veterans_affairs", district=district, region=district.region)
    civil = AgencyFactory(kind="civil_affairs", district=district, region=district.region)
    veteran = PersonFactory(hukou_district=district, name="退役甲")
    CertificationFactory(person=veteran, category=category("entitled_group"), agency=veterans, document_ref="京退〔2024〕1号")
    poor = PersonFactory(hukou_district=district, name="低保乙")
    CertificationFactory(person=poor, category=category("minimum_living"), agency=civil, document_ref="京民〔2024〕7号")
    # a non-beneficiary first seen in a settlement file (POLICY.md §9): medical security's, no agency's
    plain = PersonFactory(hukou_district=district, name="未认定丙", registration_source="settlement_file")
    return {"veteran": veteran, "poor": poor, "plain": plain, "veterans": veterans, "civil": civil}


def _names(client, url, **kw):
    return client.get(url, kw).content.decode()


def test_certifier_list_shows_only_the_persons_of_their_agency(client, world, veterans_certifier):
    client.force_login(veterans_certifier)
    page = _names(client, reverse("beneficiaries:index"))
    assert "退役甲" in page
    assert "低保乙" not in page and "未认定丙" not in page
    assert world["poor"].masked_id_number not in page


def test_certifier_gets_404_on_another_agencys_person_and_its_pages(client, world, veterans_certifier):
    client.force_login(veterans_certifier)
    poor = world["poor"]
    assert client.get(reverse("beneficiaries:person_detail", args=[world["veteran"].pk])).status_code == 200
    for name in ("person_detail", "person_edit", "certify"):
        assert client.get(reverse(f"beneficiaries:{name}", args=[poor.pk])).status_code == 404, name
    for name in ("household_create", "household_member_add"):
        assert client.post(reverse(f"beneficiaries:{name}", args=[poor.pk])).status_code == 404, name
    assert not Household.objects.exists()
    before = Person.history.count()
    response = client.post(reverse("beneficiaries:person_reveal", args=[poor.pk]), {"purpose": "identity_check"})
    assert response.status_code == 404
    response = client.post(reverse("beneficiaries:person_edit", args=[poor.pk]), {"name": "改名"})
    assert response.status_code == 404
    assert Person.history.count() == before


def test_certifier_search_finds_no_person_of_another_agency(client, world, veterans_certifier):
    client.force_login(veterans_certifier)
    poor, veteran = world["poor"], world["veteran"]
    link = reverse("beneficiaries:person_detail", args=[poor.pk])
    assert link not in _names(client, reverse("beneficiaries:index"), q="低保乙")
    assert link not in _names(client, reverse("search"), q="低保乙")
    assert reverse("beneficiaries:person_detail", args=[veteran.pk]) in _names(client, reverse("search"), q="退役甲")
    # the full ID number (POSTed) does not find them either, nor its last four digits
    response = client.post(reverse("beneficiaries:index"), {"id_number": poor.id_number})
    assert response.status_code == 200 and link not in response.content.decode()
    for q in (poor.id_number, poor.id_number[-4:]):
        page = client.post(reverse("search_go"), {"q": q}, follow=True).content.decode()
        assert f'href="{link}"' not in page and "低保乙" not in page, q


def test_certifier_exports_no_person_of_another_agency(client, world, veterans_certifier):
    client.force_login(veterans_certifier)
    # the persons' export (premium-subsidy roster) is not theirs at all
    response = client.get(reverse("beneficiaries:subsidy_roster"), {"format": "csv"})
    assert response.status_code == 403
    # and the selector behind every export sees only their agency's persons
    assert set(selectors.access_persons(veterans_certifier)) == {world["veteran"]}


def test_medical_security_staff_still_see_every_person_of_their_district(client, world, caseworker, reviewer):
    for user in (caseworker, reviewer):
        assert set(selectors.access_persons(user)) == {world["veteran"], world["poor"], world["plain"]}


def test_civil_affairs_certifier_sees_its_categories_not_the_veterans(client, world, civil_certifier):
    assert set(selectors.access_persons(civil_certifier)) == {world["poor"]}
    client.force_login(civil_certifier)
    assert client.get(reverse("beneficiaries:person_detail", args=[world["veteran"].pk])).status_code == 404


def test_a_co_certified_category_is_visible_to_both_agencies(world, district, civil_certifier, caseworker):
    """illness_poverty_patient is civil affairs' with medical security co-certifying (§2)."""
    patient = PersonFactory(hukou_district=district, name="因病丁")
    medsec = caseworker.staff_profile.agency
    CertificationFactory(person=patient, category=category("illness_poverty_patient"), agency=medsec)
    assert patient in selectors.access_persons(civil_certifier)


def test_a_person_registered_at_an_office_and_certified_by_no_agency_is_a_pending_request(world, district,
                                                                                       veterans_certifier):
    waiting = PersonFactory(hukou_district=district, name="待认定辛")
    assert waiting in selectors.access_persons(veterans_certifier)
    CertificationFactory(person=waiting, category=category("minimum_living"), agency=world["civil"])
    assert waiting not in selectors.access_persons(veterans_certifier)  # civil affairs' now


def test_the_person_a_certifier_registers_is_theirs_before_any_certification(client, world, veterans_certifier,
                                                                              civil_certifier, district):
    from beneficiaries import idnumber

    client.force_login(veterans_certifier)
    number = idnumber.make(district.code, date(1960, 5, 4), 777)
    response = client.post(reverse("beneficiaries:person_register"), {
        "id_number": number, "name": "新登戊", "hukou_district": district.pk, "insurance_type": "resident"})
    assert response.status_code == 302, response.content.decode()[:2000]
    new = Person.objects.get(name="新登戊")
    assert client.get(response["Location"]).status_code == 200
    assert client.get(reverse("beneficiaries:certify", args=[new.pk])).status_code == 200
    # once certified by the veterans agency, theirs (and no longer civil affairs' pending request)
    CertificationFactory(person=new, category=category("entitled_group"), agency=world["veterans"])
    assert new in selectors.access_persons(veterans_certifier)
    assert new not in selectors.access_persons(civil_certifier)


def test_civil_affairs_sees_the_households_it_is_asked_to_assess_or_handle(world, district, civil_certifier,
                                                                         veterans_certifier):
    from applications.models import Application, Status
    from monitoring.models import EarlyWarning

    plain = world["plain"]
    household = Household.objects.create(district=district)
    member = PersonFactory(hukou_district=district, name="同户己", registration_source="settlement_file")
    Person.objects.filter(pk__in=[plain.pk, member.pk]).update(household=household)
    assert plain not in selectors.access_persons(civil_certifier)
    application = Application.objects.create(household=household, applicant=plain, district=district,
                                             received_on=date(2025, 3, 1), year=2025, status=Status.RECEIVED)
    # still at the medical-security window: not yet asked of civil affairs
    assert plain not in selectors.access_persons(civil_certifier)
    Application.objects.filter(pk=application.pk).update(status=Status.ASSESSING)
    assert {plain, member} <= set(selectors.access_persons(civil_certifier))
    assert household in selectors.access_households(civil_certifier)
    assert plain not in selectors.access_persons(veterans_certifier)
    assert household not in selectors.access_households(veterans_certifier)

    other = Household.objects.create(district=district)
    warned = PersonFactory(hukou_district=district, name="预警庚", household=other, registration_source="settlement_file")
    assert warned not in selectors.access_persons(civil_certifier)
    EarlyWarning.objects.create(household=other, year=2025, kind="illness_poverty", burden=Decimal("90000.00"),
                                threshold=Decimal("50000.00"), person=warned)
    assert warned in selectors.access_persons(civil_certifier)
    assert warned not in selectors.access_persons(veterans_certifier)


def test_household_members_of_another_agency_are_counted_not_named(client, world, district, veterans_certifier):
    household = Household.objects.create(district=district)
    Person.objects.filter(pk=world["veteran"].pk).update(household=household, relation="head")
    Person.objects.filter(pk=world["poor"].pk).update(household=household, relation="spouse")
    client.force_login(veterans_certifier)
    page = client.get(reverse("beneficiaries:person_detail", args=[world["veteran"].pk])).content.decode()
    assert "低保乙" not in page and world["poor"].masked_id_number not in page
    assert "另有1名成员" in page


def test_the_services_refuse_another_agencys_person_whoever_calls_them(world, veterans_certifier):
    poor = world["poor"]
    with pytest.raises(PermissionDenied):
        services.person_update(person=poor, by=veterans_certifier, name="改名")
    with pytest.raises(PermissionDenied):
        services.id_number_reveal(user=veterans_certifier, person=poor, purpose="identity_check")
    assert Person.objects.get(pk=poor.pk).name == "低保乙"


def test_the_api_shows_an_agency_system_no_person_of_another_agency(client, world, district):
    """An agency's system acts as a certifier of its agency: it reads back only its own
    certifications, and a push for a person another agency registered certifies them (the push
    is the request) without handing back anything about them."""
    from api import services as api_services
    from tests.factories import map_category_in_policy

    map_category_in_policy("entitled_group")
    api, token = api_services.api_client_create(name="退役军人系统", agency=world["veterans"], rate_limit=10_000)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert set(selectors.access_persons(api.user)) == {world["veteran"]}
    listed = client.get("/api/v1/certifications", **headers).json()
    assert [c["document_ref"] for c in listed["items"]] == ["京退〔2024〕1号"]
    assert client.get("/api/v1/certifications/京民〔2024〕7号", **headers).status_code == 404
    assert client.get("/api/v1/eligibility", {"certno": world["poor"].id_number, "on": "2025-01-01"},
                      **headers).status_code == 403
    response = client.post("/api/v1/certifications", {
        "certno": world["poor"].id_number, "name": "低保乙", "category": "entitled_group",
        "valid_from": "2025-01-01", "document_ref": "京退〔2025〕9号"}, content_type="application/json", **headers)
    assert response.status_code == 201, response.content
    assert "低保乙" not in response.content.decode() and world["poor"].id_number not in response.content.decode()
    assert world["poor"] in selectors.access_persons(api.user)  # now a person of their category
