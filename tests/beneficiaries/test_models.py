from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from beneficiaries import idnumber
from beneficiaries.models import Certification, Person
from tests.factories import CertificationFactory, PersonFactory, category

pytestmark = pytest.mark.django_db


def test_person_clean_derives_gender_and_birth_date_from_id_number(district):
    number = idnumber.make("110105", date(1980, 2, 29), 12, male=False)
    person = Person(id_number=number.lower(), name="甲", hukou_district=district, insured_region=district.region)
    person.clean()
    assert person.gender == "F"
    assert person.birth_date == date(1980, 2, 29)


@pytest.mark.parametrize("raw, code", [
    ("11010519800229001", "length"),
    ("11010519800229001A", "digits"),
    ("11010519800230001X", "birth_date"),
])
def test_person_clean_rejects_invalid_id_number_with_field_and_code(district, raw, code):
    person = Person(id_number=raw, name="甲", hukou_district=district, insured_region=district.region)
    with pytest.raises(ValidationError) as exc:
        person.clean()
    assert exc.value.error_dict["id_number"][0].code == code


def test_wrong_check_character_is_rejected(district):
    good = idnumber.make("110105", date(1980, 1, 1), 10)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(idnumber.IdNumberError) as exc:
        idnumber.parse(bad)
    assert exc.value.code == "check_digit"


def test_unknown_region_code_is_not_a_parse_error():
    """Retired address codes stay valid: only a warning at registration (see services)."""
    number = idnumber.make("999999", date(1970, 1, 1), 5)
    assert idnumber.parse(number).region_code == "999999"


def test_masked_id_number_shows_region_code_and_last_four():
    person = Person(id_number="11010519800101123X", name="甲")
    assert person.masked_id_number == "110105********123X"
    assert "19800101" not in str(person)


def test_id_number_is_unique(district):
    p = PersonFactory(hukou_district=district)
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonFactory(hukou_district=district, id_number=p.id_number)


def test_certification_until_before_from_is_refused_by_the_database(person):
    with pytest.raises(IntegrityError), transaction.atomic():
        CertificationFactory(person=person, valid_from=date(2023, 5, 1), valid_until=date(2023, 4, 30))


def test_policy_2_coverage_window_inclusive(person):
    cert = CertificationFactory(person=person, valid_from=date(2023, 1, 1), valid_until=date(2023, 6, 30))
    assert cert.is_active_on(date(2023, 1, 1))
    assert cert.is_active_on(date(2023, 6, 30))
    assert not cert.is_active_on(date(2023, 7, 1))
    assert not cert.is_active_on(date(2022, 12, 31))


def test_categories_carry_owning_agency():
    assert category("minimum_living").certifiable_by("civil_affairs")
    assert not category("minimum_living").certifiable_by("medical_security")
    assert category("illness_poverty_patient").certifiable_by("medical_security")
    assert category("entitled_group").certifiable_by("veterans_affairs")
    assert Certification._meta.get_field("import_batch").null
