"""seed_demo: the documented demo logins work, scoping is demonstrable, a second run changes nothing."""
import io

import pytest
from django.apps import apps
from django.contrib.auth import authenticate as _authenticate
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory

from organizations import demo, roles
from organizations.access import scope_for
from organizations.models import Agency, AgencyKind, District, Institution, Region, StaffProfile


def authenticate(*, username, password):
    return _authenticate(RequestFactory().post("/accounts/login/"), username=username, password=password)


def _row_counts() -> dict[str, int]:
    tables = set(connection.introspection.table_names())
    return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.db_table in tables}


@pytest.mark.django_db
def test_seed_demo_builds_beijing_with_three_districts_and_agencies():
    call_command("seed_demo", only=["organizations"], stdout=io.StringIO())
    region = Region.objects.get(code="110000")
    assert region.name == "北京市"
    assert {(d.code, d.name, d.short_name) for d in District.objects.filter(region=region)} == {
        ("110105", "朝阳区", "京朝"), ("110108", "海淀区", "京海"), ("110101", "东城区", "京东"),
    }
    # one agency per kind per district, plus city-level medical security
    assert Agency.objects.filter(district__isnull=False).count() == 3 * len(AgencyKind)
    city = Agency.objects.get(code="110000-medical_security")
    assert city.district is None and city.kind == AgencyKind.MEDICAL_SECURITY
    assert Agency.objects.get(code="110105-civil_affairs").name == "北京市朝阳区民政局"
    assert Institution.objects.filter(designated=True).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("spec", demo.DEMO_USERS, ids=lambda s: s.username)
def test_every_documented_demo_login_works_with_its_role(spec):
    call_command("seed_demo", only=["organizations"], stdout=io.StringIO())
    user = authenticate(username=spec.username, password=spec.password)
    assert user is not None, f"{spec.username} cannot log in with the documented password"
    assert roles.has_role(user, spec.role)
    profile = StaffProfile.objects.get(user=user)
    assert profile.agency.code == spec.agency_code
    assert (profile.district.code if profile.district else None) == spec.district_code


@pytest.mark.django_db
def test_demo_users_demonstrate_scoping():
    call_command("seed_demo", only=["organizations"], stdout=io.StringIO())
    by_name = {u.user.username: u for u in StaffProfile.objects.select_related("user", "district")}
    assert scope_for(by_name["jingban"].user).district_id == District.objects.get(code="110105").pk
    assert scope_for(by_name["haidian-jingban"].user).district_id == District.objects.get(code="110108").pk
    assert scope_for(by_name["shenji"].user).city_level
    admin = by_name["admin"].user
    assert admin.is_staff and admin.is_superuser
    assert not by_name["jingban"].user.is_staff  # only the administrator reaches /admin/


@pytest.mark.django_db
def test_seed_demo_passwords_only_from_the_demo_not_migrations():
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.exists(), "migrations must not create users"


@pytest.mark.django_db
def test_second_seed_demo_run_changes_nothing():
    """Whole demo (every app's demo.seed), twice: the second run adds and removes no row."""
    call_command("seed_demo", stdout=io.StringIO())
    first = _row_counts()
    call_command("seed_demo", stdout=io.StringIO())
    second = _row_counts()
    changed = {k: (first[k], second[k]) for k in first if first[k] != second[k]}
    # Historical records are rows too: an idempotent seed writes no history either.
    assert changed == {}, f"second seed_demo run changed row counts: {changed}"


@pytest.mark.django_db
def test_demo_keeps_a_password_the_administrator_changed():
    call_command("seed_demo", only=["organizations"], stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="jingban")
    user.set_password("changed-by-admin-2026")
    user.save()
    call_command("seed_demo", only=["organizations"], stdout=io.StringIO())
    assert authenticate(username="jingban", password="changed-by-admin-2026") is not None
