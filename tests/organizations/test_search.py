"""Issue 18: one search box in the navbar finds persons, claims, applications and letters in
the user's scope, by name, full ID number (never in a URL) or its last four."""
from __future__ import annotations

import pytest
from django.urls import reverse

from organizations import search
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def test_parse_classifies_the_term():
    person_id = "11010519491231002X"
    assert search.parse(person_id).id_number == person_id
    assert search.parse(" 002x ").last4 == "002X"
    assert search.parse("BX2023-000042").claim_pk == 42
    assert search.parse("王") == search.Term(text="王")
    assert search.parse("   ") is None


def test_navbar_box_is_on_every_page(client, caseworker):
    client.force_login(caseworker)
    body = client.get(reverse("home")).content.decode()
    assert 'class="d-flex me-3 my-2 my-lg-0 nav-search"' in body and reverse("search_go") in body


def test_navbar_search_by_full_id_number(client, caseworker, district, other_district):
    mine = PersonFactory(hukou_district=district, name="赵一")
    theirs = PersonFactory(hukou_district=other_district, name="赵二")
    client.force_login(caseworker)
    response = client.post(reverse("search_go"), {"q": mine.id_number, "next": reverse("search")})
    assert mine.id_number not in response["Location"]
    page = client.get(response["Location"])
    persons = page.context["sections"][0]["rows"]
    assert persons == [mine]
    response = client.post(reverse("search_go"), {"q": theirs.id_number, "next": reverse("search")})
    assert client.get(response["Location"]).context["sections"][0]["rows"] == []


def test_navbar_search_by_name_and_last_four(client, caseworker, district):
    a = PersonFactory(hukou_district=district, name="钱多多")
    client.force_login(caseworker)
    assert client.get(reverse("search"), {"q": "钱多"}).context["sections"][0]["rows"] == [a]
    assert a in client.get(reverse("search"), {"q": a.id_number[-4:]}).context["sections"][0]["rows"]


def test_qid_of_another_session_finds_nothing(client, caseworker, district):
    person = PersonFactory(hukou_district=district)
    client.force_login(caseworker)
    location = client.post(reverse("search_go"), {"q": person.id_number, "next": reverse("search")})["Location"]
    client.logout()
    client.force_login(caseworker)  # a new session: the token means nothing there
    assert client.get(location).context["term"] is None


def test_next_must_stay_on_this_site(client, caseworker):
    client.force_login(caseworker)
    response = client.post(reverse("search_go"), {"q": "x", "next": "https://evil.example/"})
    assert response["Location"].startswith(reverse("search"))
