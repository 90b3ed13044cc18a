"""Django admin for administrators: every organisations model listed, searchable and filterable."""
import io

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from organizations.models import Agency, District, Institution, Region, RegionStatistic, StaffProfile

ORG_MODELS = [Region, District, Agency, StaffProfile, Institution, RegionStatistic]


@pytest.fixture
def admin_client_with_demo(client, db):
    call_command("seed_demo", only=["organizations"], stdout=io.StringIO())
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def test_every_organisations_model_is_registered_with_lists_filters_and_search():
    for model in ORG_MODELS + [get_user_model()]:
        model_admin = admin.site._registry[model]
        assert len(model_admin.list_display) >= 3, model
        assert model_admin.search_fields, model
        if model is not Region:
            assert model_admin.list_filter, model


def test_site_header():
    assert str(admin.site.site_header) == "医疗救助经办系统 管理后台"


@pytest.mark.django_db
@pytest.mark.parametrize("model", ORG_MODELS + [get_user_model()], ids=lambda m: m.__name__)
def test_changelist_search_and_add_pages_load(admin_client_with_demo, model):
    info = model._meta.app_label, model._meta.model_name
    changelist = reverse("admin:{}_{}_changelist".format(*info))
    assert admin_client_with_demo.get(changelist).status_code == 200
    assert admin_client_with_demo.get(changelist, {"q": "朝阳"}).status_code == 200
    assert admin_client_with_demo.get(reverse("admin:{}_{}_add".format(*info))).status_code == 200
    obj = model._default_manager.first()
    assert admin_client_with_demo.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk])).status_code == 200


@pytest.mark.django_db
def test_staff_search_finds_by_agency_and_filter_by_level(admin_client_with_demo):
    url = reverse("admin:organizations_staffprofile_changelist")
    found = admin_client_with_demo.get(url, {"q": "民政局"}).context["cl"].result_list
    assert [p.user.username for p in found] == ["minzheng"]
    city = admin_client_with_demo.get(url, {"level": "city"}).context["cl"].result_list
    assert {p.user.username for p in city} == {"shenji", "admin"}


@pytest.mark.django_db
def test_staff_list_has_no_n_plus_one(admin_client_with_demo, django_assert_max_num_queries):
    url = reverse("admin:organizations_staffprofile_changelist")
    with django_assert_max_num_queries(15):
        admin_client_with_demo.get(url)


@pytest.mark.django_db
def test_user_change_page_edits_the_staff_profile_inline(admin_client_with_demo):
    user = get_user_model().objects.get(username="jingban")
    body = admin_client_with_demo.get(reverse("admin:auth_user_change", args=[user.pk])).content.decode()
    assert "staff_profile-0-agency" in body
