"""Certification categories follow the region's policy in force (POLICY.md §9, issue 13): the form
and the roster import offer only categories the policy maps, and say why another is refused."""
from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from beneficiaries import idnumber, services
from beneficiaries.imports import RosterImport, read_roster
from beneficiaries.models import Certification
from tests.factories import PersonFactory, category

from .conftest import roster_csv

pytestmark = pytest.mark.django_db


def test_s9_certification_of_a_category_the_region_policy_does_not_map_is_refused(civil_certifier, district):
    person = PersonFactory(hukou_district=district)
    agency = civil_certifier.staff_profile.agency
    # 京医保发〔2022〕37号 names no 困境儿童 (no tier, scheme, subsidy or warning): refused, naming the document
    with pytest.raises(ValidationError) as info:
        services.certification_create(person=person, category=category("distressed_child"), agency=agency,
                                      officer=civil_certifier, valid_from=date(2024, 1, 1), document_ref="X")
    error = info.value.error_dict["category"][0]
    assert error.code == "category_not_in_policy" and "京医保发〔2022〕37号" in error.message
    ok = services.certification_create(person=person, category=category("minimum_living"), agency=agency,
                                       officer=civil_certifier, valid_from=date(2024, 1, 1), document_ref="X")
    assert ok.pk


def test_s9_roster_import_refuses_unmapped_category_naming_the_row(civil_certifier):
    agency = civil_certifier.staff_profile.agency
    rows = read_roster(io.BytesIO(roster_csv([
        (idnumber.make("110105", date(1960, 5, 1), 11), "甲", "distressed_child", "2024-01-01", "", ""),
        (idnumber.make("110105", date(1960, 5, 1), 12), "乙", "minimum_living", "2024-01-01", "", ""),
    ])), "r.csv")
    plan = RosterImport(agency=agency).plan(rows)
    assert [(e.line, e.field, e.code) for e in plan.errors] == [(2, "category", "category_not_in_policy")]
    assert "京医保发〔2022〕37号" in plan.errors[0].message
    assert not Certification.objects.exists()


def test_s9_certify_form_offers_only_mapped_categories_and_says_why(client, civil_certifier, district):
    person = PersonFactory(hukou_district=district)
    client.force_login(civil_certifier)
    page = client.get(reverse("beneficiaries:certify", args=[person.pk])).content.decode()
    assert 'id="refused-categories"' in page
    refused, form_part = page.split('id="refused-categories"')[1].split("</p>", 1)
    assert "最低生活保障对象" in form_part and "困境儿童" not in form_part
    assert "困境儿童" in refused and "京医保发〔2022〕37号" in refused
