"""organizations.access: one test per scope rule, and the selectors built on it."""
import pytest
from django.contrib.auth.models import Group
from django.http import Http404

from beneficiaries.models import Person
from organizations import roles
from organizations.access import ensure_in_scope, get_scoped_or_404, restrict, scope_for
from organizations.selectors import access_districts, access_institutions, scope_label
from tests.factories import DistrictFactory, InstitutionFactory, PersonFactory, UserFactory, make_staff


@pytest.fixture
def people(district, other_district):
    return PersonFactory(hukou_district=district), PersonFactory(hukou_district=other_district)


def visible(user):
    return set(restrict(Person.objects.all(), user, district="hukou_district"))


@pytest.mark.django_db
def test_superuser_sees_everything(people):
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    assert visible(admin) == set(people)


@pytest.mark.django_db
def test_user_without_staff_profile_sees_nothing(people):
    user = UserFactory(username="loner")
    user.groups.add(Group.objects.get(name=roles.CASEWORKER))
    assert visible(user) == set()
    assert scope_for(user).nothing


@pytest.mark.django_db
def test_inactive_staff_sees_nothing(people, caseworker):
    caseworker.is_active = False
    assert visible(caseworker) == set()


@pytest.mark.django_db
def test_city_level_staff_see_their_whole_region(people, auditor):
    assert visible(auditor) == set(people)


@pytest.mark.django_db
def test_city_level_staff_do_not_see_another_region(people):
    outsider_district = DistrictFactory(code="320205", name="锡山区", short_name="锡山",
                                        region__code="320200", region__name="无锡市", region__short_name="锡")
    outsider = make_staff(roles.AUDITOR, district=outsider_district, city_level=True, username="wuxi-auditor")
    assert visible(outsider) == set()


@pytest.mark.django_db
def test_district_staff_see_only_their_district(people, caseworker, other_caseworker):
    mine, theirs = people
    assert visible(caseworker) == {mine}
    assert visible(other_caseworker) == {theirs}


@pytest.mark.django_db
def test_get_scoped_or_404_hides_another_districts_object(people, caseworker):
    mine, theirs = people
    assert get_scoped_or_404(Person.objects.all(), caseworker, district="hukou_district", pk=mine.pk) == mine
    with pytest.raises(Http404):
        get_scoped_or_404(Person.objects.all(), caseworker, district="hukou_district", pk=theirs.pk)


@pytest.mark.django_db
def test_ensure_in_scope_refuses_writes_outside_the_scope(district, other_district, caseworker, auditor):
    ensure_in_scope(caseworker, district_id=district.pk, region_id=district.region_id)
    with pytest.raises(Http404):
        ensure_in_scope(caseworker, district_id=other_district.pk, region_id=other_district.region_id)
    ensure_in_scope(auditor, district_id=other_district.pk, region_id=other_district.region_id)
    with pytest.raises(Http404):
        ensure_in_scope(UserFactory(username="nobody"), district_id=district.pk, region_id=district.region_id)


@pytest.mark.django_db
def test_access_districts_and_institutions(district, other_district, caseworker, auditor):
    assert list(access_districts(caseworker)) == [district]
    assert set(access_districts(auditor)) == {district, other_district}
    # a patient of one district is treated anywhere in the region: institutions are region-wide
    far = InstitutionFactory(district=other_district)
    assert far in access_institutions(caseworker)
    assert not access_institutions(UserFactory(username="nobody")).exists()


@pytest.mark.django_db
def test_scope_label_says_what_the_user_sees(caseworker, auditor):
    assert scope_label(scope_for(caseworker)) == "朝阳区"
    assert scope_label(scope_for(auditor)) == "北京市（全市）"
    assert scope_label(scope_for(UserFactory(username="nobody"))) == "无数据权限"


@pytest.mark.django_db
def test_roles_are_groups_with_permissions_from_migrations():
    caseworker = Group.objects.get(name=roles.CASEWORKER)
    auditor = Group.objects.get(name=roles.AUDITOR)
    assert caseworker.permissions.filter(codename="add_person").exists()
    assert auditor.permissions.filter(codename="view_person").exists()
    assert not auditor.permissions.exclude(codename__startswith="view_").exists(), "the auditor is read-only"
    certifier = Group.objects.get(name=roles.CERTIFIER)
    assert not certifier.permissions.filter(content_type__app_label="claims").exists()


@pytest.mark.django_db
def test_has_role_and_labels(caseworker, civil_certifier):
    assert roles.has_role(caseworker, roles.CASEWORKER)
    assert not roles.has_role(caseworker, roles.CERTIFIER)
    assert roles.labels_for(civil_certifier) == ["认定人员"]
    admin = UserFactory(username="root", is_superuser=True)
    assert roles.has_role(admin, roles.AUDITOR) and roles.labels_for(admin) == ["系统管理员"]
