"""Issue 15, item "households filtered by district": once a person of another district is linked into
a household, a person's page shows only the members in the user's scope, the others as a count."""
import pytest
from django.urls import reverse

from beneficiaries.models import Household, Person
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def test_household_members_outside_the_users_district_are_counted_not_named(client, caseworker, district, other_district):
    head = PersonFactory(hukou_district=district, name="刘建国")
    child = PersonFactory(hukou_district=district, name="刘小")
    outsider = PersonFactory(hukou_district=other_district, name="何海波")
    household = Household.objects.create(district=district)
    Person.objects.filter(pk=head.pk).update(household=household, relation="head")
    Person.objects.filter(pk=child.pk).update(household=household, relation="child")
    Person.objects.filter(pk=outsider.pk).update(household=household, relation="spouse")
    client.force_login(caseworker)
    page = client.get(reverse("beneficiaries:person_detail", args=[head.pk])).content.decode()
    assert "刘小" in page and child.masked_id_number in page
    assert "何海波" not in page and outsider.masked_id_number not in page
    assert reverse("beneficiaries:person_detail", args=[outsider.pk]) not in page
    assert "另有1名成员不在本辖区" in page


def test_household_with_every_member_in_scope_shows_no_count(client, caseworker, district):
    head = PersonFactory(hukou_district=district)
    household = Household.objects.create(district=district)
    Person.objects.filter(pk=head.pk).update(household=household, relation="head")
    client.force_login(caseworker)
    page = client.get(reverse("beneficiaries:person_detail", args=[head.pk])).content.decode()
    assert "不在本辖区" not in page
