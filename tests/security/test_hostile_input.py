"""Issue 15, item "Input": ID numbers normalised in one function before validation; every text
field refuses control characters with a message naming the field. The 11 inputs of the audit
that answered 500 are here one by one (full-width and Arabic-Indic digits on person
registration, ID search, claim intake, application intake, household members; a NUL in the
letter-correction reason)."""
from __future__ import annotations

from datetime import date

import pytest
from django import forms
from django.urls import reverse

from beneficiaries import idnumber
from beneficiaries.models import Person
from organizations import roles

pytestmark = pytest.mark.django_db

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９ｘ")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SPELLINGS = {"full_width": FULL_WIDTH, "arabic_indic": ARABIC_INDIC}


def spelled(number: str, how: str) -> str:
    return number.translate(SPELLINGS[how])


NEW_NUMBER = idnumber.make("110105", date(1975, 6, 1), 301)


# -- the one normalisation ------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "１１０１０５１９７５０６０１３０１４".replace("４", "４"),
    "110105 19750601 3014", "\u3000110105197506013014\u200f", "١١٠١٠٥١٩٧٥٠٦٠١٣٠١٤",
])
def test_id_number_normalise_reads_full_width_arabic_indic_spaces_and_marks(raw):
    assert idnumber.normalise(raw) == "110105197506013014"


def test_id_number_normalise_upper_cases_x_and_full_width_x():
    assert idnumber.normalise("11010519750601301x") == idnumber.normalise("11010519750601301ｘ") == "11010519750601301X"


@pytest.mark.parametrize("raw", ["\x00" * 18, "１" * 17 + "\x00", "²" * 18, "①" * 18, "ab" * 9, "1" * 10_000, "😀" * 18])
def test_id_number_parse_refuses_hostile_text_with_a_message_never_an_exception(raw):
    with pytest.raises(idnumber.IdNumberError):
        idnumber.parse(raw)


# -- the 11 inputs --------------------------------------------------------------------------


@pytest.fixture
def caseworker_client(client, caseworker):
    client.force_login(caseworker)
    return client


@pytest.mark.parametrize("how", SPELLINGS)
def test_input_person_registration_reads_the_id_number_in_other_digits(caseworker_client, district, how):
    response = caseworker_client.post(reverse("beneficiaries:person_register"), {
        "id_number": spelled(NEW_NUMBER, how), "name": "赵六", "insurance_type": "resident"})
    assert response.status_code == 302
    assert Person.objects.get(id_number=NEW_NUMBER).name == "赵六"


@pytest.mark.parametrize("how", SPELLINGS)
def test_input_id_search_reads_the_id_number_in_other_digits(caseworker_client, district, how):
    from tests.factories import PersonFactory

    person = PersonFactory(hukou_district=district)
    response = caseworker_client.post(reverse("beneficiaries:index"), {"id_number": spelled(person.id_number, how)})
    assert response.status_code == 302 and str(person.pk) in response.url


@pytest.mark.parametrize("how", SPELLINGS)
def test_input_claim_intake_reads_the_id_number_in_other_digits(caseworker_client, district, how):
    from claims.forms import ClaimForm
    from tests.factories import PersonFactory

    person = PersonFactory(hukou_district=district)
    response = caseworker_client.post(reverse("claims:create"), {
        "id_number": spelled(person.id_number, how), "applied_on": "2024-03-01", "preview": "1"})
    assert response.status_code == 200
    form = ClaimForm({"id_number": spelled(person.id_number, how), "applied_on": "2024-03-01"},
                     persons=Person.objects.all())
    form.is_valid()
    assert form.cleaned_data["id_number"] == person


@pytest.mark.parametrize("how", SPELLINGS)
def test_input_application_intake_reads_the_id_number_in_other_digits(caseworker_client, district, how):
    from applications.models import Application
    from tests.factories import HouseholdFactory, PersonFactory

    patient = PersonFactory(hukou_district=district, household=HouseholdFactory(district=district), relation="head")
    response = caseworker_client.post(reverse("applications:create"), {
        "patient_id_number": spelled(patient.id_number, how), "received_on": "2024-03-01", "channel": "window"})
    assert response.status_code == 302
    assert Application.objects.get().applicant == patient


@pytest.mark.parametrize("how", SPELLINGS)
def test_input_household_member_reads_the_id_number_in_other_digits(client, civil_certifier, district, how):
    from beneficiaries import services
    from tests.factories import PersonFactory

    head, member = PersonFactory(hukou_district=district), PersonFactory(hukou_district=district)
    services.household_create(head=head, by=civil_certifier)
    client.force_login(civil_certifier)
    response = client.post(reverse("beneficiaries:household_member_add", args=[head.pk]),
                           {"id_number": spelled(member.id_number, how), "relation": "child"})
    assert response.status_code == 302
    head.refresh_from_db(), member.refresh_from_db()
    assert member.household_id == head.household_id


def test_input_nul_in_the_letter_correction_reason_is_refused_naming_the_field(client, district, reviewer, approved_content):
    from reports.models import Letter, LetterKind
    from reports.services import letter_issue_from_content

    letter = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    client.force_login(reviewer)
    response = client.post(reverse("reports:letter_correct", args=[letter.pk]), {"reason": "金额\x00错误", "confirmed": "1"},
                           follow=True)
    assert response.status_code == 200
    assert "“更正原因”不能包含控制字符" in response.content.decode()
    assert Letter.objects.count() == 1


# -- control characters, in one place ------------------------------------------------------


@pytest.mark.parametrize("ch", ["\x00", "\x01", "\x1b", "\x7f", "\x85"])
def test_every_text_field_of_every_form_refuses_control_characters_naming_the_field(ch):
    class AnyForm(forms.Form):
        title = forms.CharField(label="题名")
        body = forms.CharField(widget=forms.Textarea)

    form = AnyForm({"title": f"a{ch}b", "body": f"x{ch}y"})
    assert not form.is_valid()
    assert form.errors["title"] == ["“题名”不能包含控制字符（如NUL）。"]
    assert form.errors["body"] == ["“Body”不能包含控制字符（如NUL）。"]


def test_line_breaks_and_tabs_stay_allowed_in_text():
    class AnyForm(forms.Form):
        body = forms.CharField(widget=forms.Textarea)

    form = AnyForm({"body": "第一行\r\n第二行\t完"})
    assert form.is_valid(), form.errors


def test_admin_and_model_forms_refuse_control_characters_too(client, district):
    from tests.factories import make_staff

    admin = make_staff(roles.ADMINISTRATOR, district=district, username="root-admin")
    admin.is_superuser = admin.is_staff = True
    admin.save()
    client.force_login(admin)
    response = client.post(reverse("admin:organizations_district_change", args=[district.pk]),
                           {"code": district.code, "name": "朝阳\x00区", "short_name": "京朝", "region": district.region_id})
    assert response.status_code == 200 and "控制字符" in response.content.decode()


def test_person_list_sorted_by_age_descending_answers_not_500(client, caseworker):
    """Found by the fuzz test's crawl: ?sort=-age ordered by "--birth_date" (500)."""
    client.force_login(caseworker)
    assert client.get(reverse("beneficiaries:index"), {"sort": "-age"}).status_code == 200


def test_global_search_with_a_next_that_is_not_a_path_answers_not_500(client, caseworker):
    """Found by the fuzz test: next=１１０１… was taken for a view name (NoReverseMatch, 500)."""
    client.force_login(caseworker)
    response = client.post(reverse("search_go"), {"q": "张", "next": "１１０１０５"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("search"))
