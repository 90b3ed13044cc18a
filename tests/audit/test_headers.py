"""Headers of personal data (issue 15): Cache-Control: no-store on every page, export and PDF;
a Permissions-Policy on every response; static files stay cacheable."""
from __future__ import annotations

import pytest
from django.urls import reverse

from audit.middleware import PERMISSIONS_POLICY

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url_name,args,query", [
    ("beneficiaries:index", [], ""),
    ("beneficiaries:person_detail", ["person"], ""),
    ("claims:index", [], ""),
    ("claims:bills", [], "export=csv"),
    ("beneficiaries:subsidy_roster", [], "format=xlsx"),
    ("home", [], ""),
    ("search", [], "q=张"),
])
def test_personal_data_pages_and_exports_are_no_store(client, caseworker, person, url_name, args, query):
    client.force_login(caseworker)
    url = reverse(url_name, args=[person.pk] if args else [])
    response = client.get(f"{url}?{query}" if query else url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY


def test_login_and_admin_pages_carry_the_headers(client, admin_user):
    response = client.get(reverse("login"))
    assert "no-store" in response["Cache-Control"] and "camera=()" in response["Permissions-Policy"]
    client.force_login(admin_user)
    response = client.get(reverse("admin:beneficiaries_person_changelist"))
    assert "no-store" in response["Cache-Control"] and "geolocation=()" in response["Permissions-Policy"]
