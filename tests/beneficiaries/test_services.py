from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from beneficiaries import idnumber, services
from beneficiaries.models import Certification, IdRevealLog, Person
from organizations import roles
from tests.factories import category, make_staff

pytestmark = pytest.mark.django_db


def _code(exc, field):
    return exc.value.error_dict[field][0].code


# -- registration --------------------------------------------------------------------------


def test_register_derives_hukou_district_from_id_number(civil_certifier, district):
    number = idnumber.make("110105", date(1966, 3, 3), 21)
    person, warnings = services.person_register(id_number=number, name=" 赵六 ", by=civil_certifier)
    assert person.hukou_district == district
    assert person.insured_region == district.region
    assert person.name == "赵六"
    assert warnings == []
    assert person.history.first().history_user == civil_certifier


def test_register_unknown_region_code_is_a_warning_not_a_rejection(civil_certifier, district):
    number = idnumber.make("110199", date(1966, 3, 3), 21)  # not a District in the system
    with pytest.raises(ValidationError) as exc:
        services.person_register(id_number=number, name="赵六", by=civil_certifier)
    assert _code(exc, "hukou_district") == "required"  # only asks for the district
    person, warnings = services.person_register(id_number=number, name="赵六", by=civil_certifier, hukou_district=district)
    assert person.pk and len(warnings) == 1 and "110199" in warnings[0]


def test_register_refuses_invalid_and_duplicate_numbers(civil_certifier, person):
    good = idnumber.make("110105", date(1980, 1, 1), 123)
    bad = good[:17] + ("1" if good[17] != "1" else "2")
    with pytest.raises(ValidationError) as exc:
        services.person_register(id_number=bad, name="甲", by=civil_certifier)
    assert _code(exc, "id_number") == "check_digit"
    with pytest.raises(ValidationError) as exc:
        services.person_register(id_number=person.id_number, name="甲", by=civil_certifier)
    assert _code(exc, "id_number") == "duplicate"


def test_register_outside_own_district_is_refused(civil_certifier, other_district):
    number = idnumber.make("110108", date(1966, 3, 3), 21)
    with pytest.raises(ValidationError) as exc:
        services.person_register(id_number=number, name="甲", by=civil_certifier)
    assert _code(exc, "hukou_district") == "out_of_scope"
    assert not Person.objects.filter(id_number=number).exists()


def test_auditor_cannot_register(auditor):
    with pytest.raises(PermissionDenied):
        services.person_register(id_number=idnumber.make("110105", date(1966, 3, 3), 21), name="甲", by=auditor)


# -- person_update: 个人已自行缴费的最近年度 (POLICY.md §5 Ningbo timing) --------------------------------


def test_policy_5_contribution_paid_year_is_edited_like_other_person_details(caseworker, civil_certifier, person):
    next_year = timezone.localdate().year + 1
    services.person_update(person=person, by=caseworker, contribution_paid_year=next_year)  # paid in the autumn before
    person.refresh_from_db()
    assert person.contribution_paid_year == next_year
    assert person.history.first().history_user == caseworker and person.history.count() == 2
    services.person_update(person=person, by=civil_certifier, contribution_paid_year=None)  # back to unknown
    person.refresh_from_db()
    assert person.contribution_paid_year is None and person.history.first().contribution_paid_year is None


@pytest.mark.parametrize("year", [1999, 24, 20245, "beyond_next_year"])
def test_policy_5_contribution_paid_year_out_of_range_is_a_field_error(caseworker, person, year):
    if year == "beyond_next_year":
        year = timezone.localdate().year + 2
    with pytest.raises(ValidationError) as exc:
        services.person_update(person=person, by=caseworker, contribution_paid_year=year)
    assert _code(exc, "contribution_paid_year") == "invalid_year"
    person.refresh_from_db()
    assert person.contribution_paid_year is None and person.history.count() == 1


def test_policy_5_contribution_paid_year_edit_is_scoped(auditor, other_caseworker, person):
    for user in (auditor, other_caseworker):  # read-only role; another district
        with pytest.raises(PermissionDenied):
            services.person_update(person=person, by=user, contribution_paid_year=2024)
    person.refresh_from_db()
    assert person.contribution_paid_year is None


def test_household_with_members_and_relation(civil_certifier, person, district):
    from tests.factories import PersonFactory

    spouse = PersonFactory(hukou_district=district)
    household = services.household_create(head=person, by=civil_certifier)
    services.household_add_member(household=household, person=spouse, relation="spouse", by=civil_certifier)
    person.refresh_from_db()
    assert person.relation == "head" and spouse.household == household
    assert {m.pk for m in household.members.all()} == {person.pk, spouse.pk}
    with pytest.raises(ValidationError):
        services.household_add_member(household=household, person=spouse, relation="head", by=civil_certifier)


# -- certification -----------------------------------------------------------------------


def _create(person, agency, officer, code="minimum_living", start=date(2023, 1, 1), until=None):
    return services.certification_create(person=person, category=category(code), agency=agency, officer=officer,
                                         valid_from=start, valid_until=until, document_ref="京朝民低〔2023〕9号")


def test_certification_create_records_officer_and_history(civil_certifier, civil_agency, person):
    cert = _create(person, civil_agency, civil_certifier)
    assert cert.officer == civil_certifier and cert.agency == civil_agency
    record = cert.history.get()
    assert record.history_type == "+" and record.history_user == civil_certifier


def test_policy_2_staff_create_only_their_agency_categories(veterans_certifier, person):
    from tests.factories import map_category_in_policy

    map_category_in_policy("entitled_group")  # Beijing names no 优抚对象 category (POLICY.md §9)
    agency = veterans_certifier.staff_profile.agency
    with pytest.raises(ValidationError) as exc:
        _create(person, agency, veterans_certifier, code="minimum_living")
    assert _code(exc, "category") == "wrong_agency"
    assert _create(person, agency, veterans_certifier, code="entitled_group").pk


def test_policy_2_medical_security_co_certifies_illness_poverty_only(caseworker, person):
    agency = caseworker.staff_profile.agency
    assert _create(person, agency, caseworker, code="illness_poverty_patient").pk
    with pytest.raises(ValidationError) as exc:
        _create(person, agency, caseworker, code="minimum_living")
    assert _code(exc, "category") == "wrong_agency"


def test_officer_must_act_for_own_agency(civil_certifier, veterans_certifier, person):
    with pytest.raises(PermissionDenied):
        _create(person, civil_certifier.staff_profile.agency, veterans_certifier)


def test_person_outside_agency_district_is_refused(civil_certifier, civil_agency, other_person):
    with pytest.raises(ValidationError) as exc:
        _create(other_person, civil_agency, civil_certifier)
    assert _code(exc, "person") == "out_of_scope"


@pytest.mark.parametrize("start, until, refused", [
    (date(2023, 6, 1), None, True),            # inside an open period
    (date(2022, 1, 1), date(2023, 1, 1), True),  # touches the first day
    (date(2022, 1, 1), date(2022, 12, 31), False),  # ends the day before
])
def test_overlapping_period_same_person_category_is_refused(civil_certifier, civil_agency, person, start, until, refused):
    _create(person, civil_agency, civil_certifier, start=date(2023, 1, 1))
    if refused:
        with pytest.raises(ValidationError) as exc:
            _create(person, civil_agency, civil_certifier, start=start, until=until)
        assert _code(exc, "valid_from") == "overlap"
    else:
        assert _create(person, civil_agency, civil_certifier, start=start, until=until).pk


def test_other_category_may_overlap(civil_certifier, civil_agency, person):
    _create(person, civil_agency, civil_certifier, code="minimum_living")
    assert _create(person, civil_agency, civil_certifier, code="hardship_allowance").pk


def test_until_before_from_refused(civil_certifier, civil_agency, person):
    with pytest.raises(ValidationError) as exc:
        _create(person, civil_agency, civil_certifier, start=date(2023, 5, 1), until=date(2023, 4, 1))
    assert _code(exc, "valid_until") == "until_before_from"


def test_policy_2_revocation_sets_valid_until_nothing_deleted(civil_certifier, civil_agency, person):
    cert = _create(person, civil_agency, civil_certifier)
    services.certification_revoke(certification=cert, until=date(2024, 3, 31), reason="收入超标", by=civil_certifier)
    cert.refresh_from_db()
    assert cert.valid_until == date(2024, 3, 31)
    assert cert.revocation_reason == "收入超标" and cert.revoked_by == civil_certifier and cert.revoked_at
    assert Certification.objects.filter(pk=cert.pk).exists()
    history = list(cert.history.order_by("history_date"))
    assert [h.history_type for h in history] == ["+", "~"]
    assert history[0].valid_until is None and history[1].valid_until == date(2024, 3, 31)
    assert history[1].history_user == civil_certifier


def test_policy_2_staff_revoke_only_their_agency_categories(civil_certifier, civil_agency, veterans_certifier, person):
    cert = _create(person, civil_agency, civil_certifier)
    with pytest.raises(ValidationError) as exc:
        services.certification_revoke(certification=cert, until=date(2024, 1, 1), reason="x", by=veterans_certifier)
    assert _code(exc, "category") == "wrong_agency"
    cert.refresh_from_db()
    assert cert.valid_until is None


def test_revoke_by_other_district_certifier_refused(civil_certifier, civil_agency, other_civil_certifier, person):
    cert = _create(person, civil_agency, civil_certifier)
    with pytest.raises(PermissionDenied):
        services.certification_revoke(certification=cert, until=date(2024, 1, 1), reason="x", by=other_civil_certifier)


@pytest.mark.parametrize("until, reason, field, code", [
    (date(2022, 12, 31), "x", "until", "until_before_from"),
    (date(2024, 1, 1), "  ", "reason", "required"),
])
def test_revoke_validation(civil_certifier, civil_agency, person, until, reason, field, code):
    cert = _create(person, civil_agency, civil_certifier)
    with pytest.raises(ValidationError) as exc:
        services.certification_revoke(certification=cert, until=until, reason=reason, by=civil_certifier)
    assert _code(exc, field) == code


def test_revoke_cannot_extend_an_ended_certification(civil_certifier, civil_agency, person):
    cert = _create(person, civil_agency, civil_certifier, until=date(2023, 12, 31))
    with pytest.raises(ValidationError) as exc:
        services.certification_revoke(certification=cert, until=date(2024, 6, 30), reason="x", by=civil_certifier)
    assert _code(exc, "until") == "already_ended"
    # an earlier end is allowed
    services.certification_revoke(certification=cert, until=date(2023, 6, 30), reason="提前终止", by=civil_certifier)


# -- PIPL reveal -------------------------------------------------------------------------


def test_reveal_is_logged_for_permitted_role(caseworker, person, caplog):
    with caplog.at_level("INFO"):
        number = services.id_number_reveal(user=caseworker, person=person, purpose="verify_identity")
    assert number == person.id_number
    log = IdRevealLog.objects.get()
    assert (log.user, log.person, log.purpose) == (caseworker, person, "核对身份（受理、审核）")
    assert person.id_number not in caplog.text


def test_reveal_refused_for_auditor_and_other_district(auditor, other_caseworker, person):
    with pytest.raises(PermissionDenied):
        services.id_number_reveal(user=auditor, person=person, purpose="verify_identity")
    with pytest.raises(PermissionDenied):
        services.id_number_reveal(user=other_caseworker, person=person, purpose="verify_identity")
    assert not IdRevealLog.objects.exists()


def test_city_level_certifier_may_certify_across_districts(person, district):
    user = make_staff(roles.CERTIFIER, district=district, agency_kind="civil_affairs", city_level=True)
    cert = _create(person, user.staff_profile.agency, user)
    assert cert.pk
