from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from beneficiaries import idnumber
from beneficiaries.models import Certification, IdRevealLog, ImportBatch, ImportStatus, Person
from tests.factories import CertificationFactory, PersonFactory, category

from .conftest import roster_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client
    return login


# -- person list and search -----------------------------------------------------------------


def test_person_list_masks_id_numbers_and_is_scoped(as_user, caseworker, person, other_person):
    c = as_user(caseworker)
    response = c.get(reverse("beneficiaries:index"))
    body = response.content.decode()
    assert response.status_code == 200
    assert person.name in body and person.masked_id_number in body
    assert person.id_number not in body
    assert other_person.name not in body


def test_person_list_query_count_is_constant(as_user, caseworker, district, django_assert_max_num_queries):
    for _ in range(30):
        p = PersonFactory(hukou_district=district)
        CertificationFactory(person=p, category=category("minimum_living"))
        CertificationFactory(person=p, category=category("severe_disability"))
    c = as_user(caseworker)
    with django_assert_max_num_queries(12):
        response = c.get(reverse("beneficiaries:index"))
    assert response.status_code == 200
    assert response.content.decode().count("最低生活保障对象") >= 25


def test_name_filter(as_user, caseworker, person, district):
    PersonFactory(hukou_district=district, name="不相干")
    body = as_user(caseworker).get(reverse("beneficiaries:index"), {"name": "建国"}).content.decode()
    assert person.name in body and "不相干" not in body


def test_search_by_id_number_is_post_and_redirects_by_pk(as_user, caseworker, person):
    response = as_user(caseworker).post(reverse("beneficiaries:index"), {"id_number": person.id_number.lower()})
    assert response.status_code == 302
    assert response["Location"] == reverse("beneficiaries:person_detail", args=[person.pk])
    assert person.id_number not in response["Location"]


def test_search_by_id_number_of_other_district_finds_nothing(as_user, caseworker, other_person):
    response = as_user(caseworker).post(reverse("beneficiaries:index"), {"id_number": other_person.id_number})
    assert response.status_code == 200 and "未找到" in response.content.decode()


def test_search_invalid_id_number_shows_field_error(as_user, caseworker):
    response = as_user(caseworker).post(reverse("beneficiaries:index"), {"id_number": "123"})
    assert "身份证号应为18位" in response.content.decode()


# -- register ------------------------------------------------------------------------------


def test_register_person_screen(as_user, civil_certifier, district):
    c = as_user(civil_certifier)
    assert c.get(reverse("beneficiaries:person_register")).status_code == 200
    number = idnumber.make("110105", date(1955, 5, 5), 31)
    response = c.post(reverse("beneficiaries:person_register"), {
        "id_number": number, "name": "钱七", "insurance_type": "resident", "disability_grade": "2", "phone": "", "address": ""})
    person = Person.objects.get(id_number=number)
    assert response.status_code == 302 and response["Location"] == reverse("beneficiaries:person_detail", args=[person.pk])
    assert person.hukou_district == district and person.disability_grade == 2 and person.gender == "M"


def test_register_invalid_number_keeps_input_and_names_field(as_user, civil_certifier):
    response = as_user(civil_certifier).post(reverse("beneficiaries:person_register"), {
        "id_number": "11010519550505031", "name": "钱七", "insurance_type": "resident"})
    body = response.content.decode()
    assert response.status_code == 200 and "身份证号应为18位" in body and "钱七" in body
    assert not Person.objects.exists()


def test_auditor_cannot_open_register(as_user, auditor):
    assert as_user(auditor).get(reverse("beneficiaries:person_register")).status_code == 403


# -- detail, reveal ------------------------------------------------------------------------


def test_person_detail_timeline_and_other_district_404(as_user, civil_certifier, other_caseworker, person):
    CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2020, 1, 1),
                         valid_until=date(2021, 12, 31))
    CertificationFactory(person=person, category=category("extreme_poverty"), valid_from=date(2022, 1, 1))
    url = reverse("beneficiaries:person_detail", args=[person.pk])
    body = as_user(civil_certifier).get(url).content.decode()
    assert "特困人员" in body and "cert-ended" in body and "idt-bar ended" in body
    assert person.id_number not in body
    assert as_user(other_caseworker).get(url).status_code == 404


def test_medsec_detail_shows_all_identities_and_best_benefit(as_user, caseworker, civil_certifier, person):
    CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2022, 1, 1))
    CertificationFactory(person=person, category=category("entitled_group"), valid_from=date(2022, 1, 1))
    url = reverse("beneficiaries:person_detail", args=[person.pk])
    body = as_user(caseworker).get(url).content.decode()
    assert "享受国家抚恤补助的优抚对象" in body and "待遇最优" in body
    body = as_user(civil_certifier).get(url).content.decode()
    assert "享受国家抚恤补助的优抚对象" not in body and "待遇最优" not in body


def test_reveal_shows_full_number_by_post_only_and_logs(as_user, caseworker, person):
    c = as_user(caseworker)
    url = reverse("beneficiaries:person_reveal", args=[person.pk])
    assert c.get(url).status_code == 302 and not IdRevealLog.objects.exists()
    response = c.post(url, {"purpose": "verify_identity", "note": "窗口核对"})
    assert response.status_code == 200 and person.id_number in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert IdRevealLog.objects.get().purpose == "核对身份（受理、审核）：窗口核对"


def test_reveal_refused_for_auditor_and_404_for_other_district(as_user, auditor, other_caseworker, person):
    url = reverse("beneficiaries:person_reveal", args=[person.pk])
    assert as_user(auditor).post(url).status_code == 403
    assert as_user(other_caseworker).post(url).status_code == 404
    assert not IdRevealLog.objects.exists()


# -- certify, revoke -----------------------------------------------------------------------


def test_certify_screen_offers_own_categories_only(as_user, veterans_certifier, person):
    body = as_user(veterans_certifier).get(reverse("beneficiaries:certify", args=[person.pk])).content.decode()
    assert "享受国家抚恤补助的优抚对象" in body and "最低生活保障对象" not in body


def test_certify_post_creates(as_user, civil_certifier, person):
    response = as_user(civil_certifier).post(reverse("beneficiaries:certify", args=[person.pk]), {
        "category": category("minimum_living").pk, "valid_from": "2024-01-01", "valid_until": "", "document_ref": "京朝民低〔2024〕1号"})
    assert response.status_code == 302
    cert = Certification.objects.get()
    assert cert.officer == civil_certifier and cert.agency == civil_certifier.staff_profile.agency


def test_policy_2_crafted_post_for_other_agency_category_is_refused(as_user, veterans_certifier, person):
    response = as_user(veterans_certifier).post(reverse("beneficiaries:certify", args=[person.pk]), {
        "category": category("minimum_living").pk, "valid_from": "2024-01-01", "document_ref": "x"})
    assert response.status_code == 200 and "category" in response.context["form"].errors
    assert not Certification.objects.exists()


def test_certify_overlap_shows_error(as_user, civil_certifier, person):
    CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    response = as_user(civil_certifier).post(reverse("beneficiaries:certify", args=[person.pk]), {
        "category": category("minimum_living").pk, "valid_from": "2024-01-01", "document_ref": "x"})
    assert response.context["form"].errors["valid_from"][0].startswith("与已有认定期间重叠")
    assert Certification.objects.count() == 1


def test_certify_other_district_person_404(as_user, civil_certifier, other_person):
    assert as_user(civil_certifier).get(reverse("beneficiaries:certify", args=[other_person.pk])).status_code == 404


def test_auditor_cannot_certify(as_user, auditor, person):
    assert as_user(auditor).get(reverse("beneficiaries:certify", args=[person.pk])).status_code == 403


def test_revoke_screen(as_user, civil_certifier, person):
    cert = CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    c = as_user(civil_certifier)
    url = reverse("beneficiaries:revoke", args=[cert.pk])
    assert c.get(url).status_code == 200
    ask = c.post(url, {"until": "2024-02-29", "reason": "收入超过低保标准"})  # issue 18: asks first
    assert ask.status_code == 200 and "确认终止" in ask.content.decode() and person.name in ask.content.decode()
    cert.refresh_from_db()
    assert cert.valid_until is None
    response = c.post(url, {"until": "2024-02-29", "reason": "收入超过低保标准", "confirmed": "1"})
    assert response.status_code == 302
    cert.refresh_from_db()
    assert cert.valid_until == date(2024, 2, 29) and cert.revoked_by == civil_certifier


def test_revoke_before_the_policy_era_is_refused(as_user, civil_certifier, person):
    cert = CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    response = as_user(civil_certifier).post(reverse("beneficiaries:revoke", args=[cert.pk]),
                                             {"until": "0001-01-01", "reason": "x", "confirmed": "1"})
    assert "until" in response.context["form"].errors


def test_policy_2_crafted_revoke_of_other_agency_category_is_refused(as_user, veterans_certifier, person):
    cert = CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    response = as_user(veterans_certifier).post(reverse("beneficiaries:revoke", args=[cert.pk]),
                                                {"until": "2024-02-29", "reason": "x"})
    assert response.status_code == 404  # not even visible to another agency kind
    cert.refresh_from_db()
    assert cert.valid_until is None


def test_revoke_other_district_404(as_user, other_civil_certifier, person):
    cert = CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    assert as_user(other_civil_certifier).post(reverse("beneficiaries:revoke", args=[cert.pk]),
                                               {"until": "2024-02-29", "reason": "x"}).status_code == 404


def test_certification_list_for_certifier(as_user, civil_certifier, person):
    CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    CertificationFactory(person=person, category=category("entitled_group"), valid_from=date(2023, 1, 1))
    body = as_user(civil_certifier).get(reverse("beneficiaries:certification_list"), {"status": "active"}).content.decode()
    assert "最低生活保障对象" in body and "享受国家抚恤补助的优抚对象" not in body
    assert person.id_number not in body


# -- household -----------------------------------------------------------------------------


def test_household_screens(as_user, civil_certifier, person, district):
    member = PersonFactory(hukou_district=district)
    c = as_user(civil_certifier)
    assert c.post(reverse("beneficiaries:household_create", args=[person.pk])).status_code == 302
    person.refresh_from_db()
    assert person.household_id and person.relation == "head"
    c.post(reverse("beneficiaries:household_member_add", args=[person.pk]), {"id_number": member.id_number, "relation": "child"})
    member.refresh_from_db()
    assert member.household_id == person.household_id and member.relation == "child"
    body = c.get(reverse("beneficiaries:person_detail", args=[person.pk])).content.decode()
    assert member.name in body and member.id_number not in body


# -- roster import (web) -------------------------------------------------------------------


def _upload(c, data: bytes, name="roster.csv", **extra):
    return c.post(reverse("beneficiaries:import_list"), {"file": SimpleUploadedFile(name, data), **extra})


def test_import_upload_preview_confirm(as_user, civil_certifier, django_capture_on_commit_callbacks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    c = as_user(civil_certifier)
    assert c.get(reverse("beneficiaries:import_list")).status_code == 200
    good = idnumber.make("110105", date(1962, 2, 2), 41)
    data = roster_csv([(good, "周八", "minimum_living", "2023-01-01", "", "京朝民〔2023〕8号"),
                       ("110105196202020", "错号", "minimum_living", "2023-01-01", "", ""),
                       (idnumber.make("110105", date(1962, 2, 2), 43), "孙九", "entitled_group", "2023-01-01", "", "")])
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(c, data)
    batch = ImportBatch.objects.get()
    assert response["Location"] == reverse("beneficiaries:import_detail", args=[batch.pk])
    assert batch.status == ImportStatus.PREVIEWED and (batch.created_count, batch.rejected_count) == (1, 2)
    assert batch.file.path.startswith(str(tmp_path)) and not Certification.objects.exists()
    detail = c.get(response["Location"]).content.decode()
    assert "确认导入有效行" in detail and "wrong_agency" not in detail and "category" in detail
    progress = c.get(reverse("beneficiaries:import_progress", args=[batch.pk])).json()
    assert progress["status"] == "previewed" and progress["percent"] == 100
    errors = c.get(reverse("beneficiaries:import_errors", args=[batch.pk]))
    text = errors.content.decode("utf-8-sig")
    assert errors["Content-Type"].startswith("text/csv") and "row" not in text and "3," in text
    with django_capture_on_commit_callbacks(execute=True):
        c.post(reverse("beneficiaries:import_confirm", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.status == ImportStatus.APPLIED and batch.applied_by == civil_certifier
    cert = Certification.objects.get()
    assert cert.import_batch == batch and cert.person.id_number == good
    # a second confirm changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        c.post(reverse("beneficiaries:import_confirm", args=[batch.pk]))
    assert Certification.objects.count() == 1


def test_import_xlsx_upload(as_user, civil_certifier, django_capture_on_commit_callbacks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    book = openpyxl.Workbook()
    book.active.append(["身份证号", "姓名", "类别", "起始日期", "终止日期", "文号"])
    book.active.append([idnumber.make("110105", date(1962, 2, 2), 41), "周八", "低保", date(2023, 1, 1), None, None])
    book.active.append([idnumber.make("110105", date(1962, 2, 2), 45), "吴十", "最低生活保障对象", date(2023, 1, 1), None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(as_user(civil_certifier), buffer.getvalue(), name="名单.xlsx")
    batch = ImportBatch.objects.get()
    assert (batch.created_count, batch.rejected_count) == (1, 1)
    assert batch.errors[0]["line"] == 2 and batch.errors[0]["code"] == "unknown_category"


def test_import_revoke_missing_requires_roster_date(as_user, civil_certifier):
    response = _upload(as_user(civil_certifier), roster_csv([]), revoke_missing="on")
    assert "roster_date" in response.context["form"].errors and not ImportBatch.objects.exists()


def test_import_batches_of_another_agency_are_404(as_user, civil_certifier, veterans_certifier, settings, tmp_path,
                                                  django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        _upload(as_user(civil_certifier), roster_csv([(idnumber.make("110105", date(1962, 2, 2), 41), "周八", "minimum_living", "2023-01-01", "", "")]))
    batch = ImportBatch.objects.get()
    c = as_user(veterans_certifier)
    for name in ("import_detail", "import_progress", "import_errors"):
        assert c.get(reverse(f"beneficiaries:{name}", args=[batch.pk])).status_code == 404
    assert c.post(reverse("beneficiaries:import_confirm", args=[batch.pk])).status_code == 404
    batch.refresh_from_db()
    assert batch.status == ImportStatus.PREVIEWED and not Certification.objects.exists()


def test_import_refused_for_caseworker(as_user, caseworker):
    assert _upload(as_user(caseworker), roster_csv([])).status_code == 403


def test_import_cancel(as_user, civil_certifier, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    c = as_user(civil_certifier)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(c, roster_csv([(idnumber.make("110105", date(1962, 2, 2), 41), "周八", "minimum_living", "2023-01-01", "", "")]))
    batch = ImportBatch.objects.get()
    c.post(reverse("beneficiaries:import_cancel", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.status == ImportStatus.CANCELLED
    with django_capture_on_commit_callbacks(execute=True):
        c.post(reverse("beneficiaries:import_confirm", args=[batch.pk]))
    assert not Certification.objects.exists()


def test_roster_template_download(as_user, civil_certifier):
    response = as_user(civil_certifier).get(reverse("beneficiaries:import_template"))
    assert response.content.decode("utf-8-sig").startswith("身份证号,姓名,类别")


# -- premium subsidy roster ----------------------------------------------------------------


def test_subsidy_roster_screen_and_exports(as_user, caseworker, person):
    CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    c = as_user(caseworker)
    response = c.get(reverse("beneficiaries:subsidy_roster"), {"year": 2024})
    assert response.status_code == 200 and "资助参保名单" in response.content.decode()
    csv_response = c.get(reverse("beneficiaries:subsidy_roster"), {"year": 2024, "format": "csv"})
    assert csv_response["Content-Type"].startswith("text/csv")
    assert "身份证号" in csv_response.content.decode("utf-8-sig")
    xlsx = c.get(reverse("beneficiaries:subsidy_roster"), {"year": 2024, "format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book.active.cell(1, 3).value == "身份证号"


def test_subsidy_roster_export_masks_ids(as_user, settings):
    from decimal import Decimal

    from organizations import roles
    from organizations.models import District, Region, RegionStatistic
    from tests.factories import make_staff

    region = Region.objects.get(code="320200")
    district = District.objects.create(region=region, code="320205", name="锡山区", short_name="锡锡")
    RegionStatistic.objects.update_or_create(region=region, year=2024, defaults={"resident_contribution": Decimal("380.00")})
    user = make_staff(roles.CASEWORKER, district=district)
    p = PersonFactory(hukou_district=district, insured_region=region, name="=cmd|calc")
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    c = as_user(user)
    text = c.get(reverse("beneficiaries:subsidy_roster"), {"year": 2024, "format": "csv"}).content.decode("utf-8-sig")
    assert p.masked_id_number in text and p.id_number not in text and "'=cmd|calc" in text and "380.00" in text
    body = c.get(reverse("beneficiaries:subsidy_roster"), {"year": 2024}).content.decode()
    assert "全额资助" in body and p.id_number not in body


def test_subsidy_roster_refused_for_certifier(as_user, civil_certifier):
    assert as_user(civil_certifier).get(reverse("beneficiaries:subsidy_roster")).status_code == 403


# -- dashboard -----------------------------------------------------------------------------


def test_dashboard_queues_for_certifier(as_user, civil_certifier, person):
    from django.utils import timezone

    CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2023, 1, 1),
                         valid_until=timezone.localdate() + timezone.timedelta(days=10))
    body = as_user(civil_certifier).get(reverse("home")).content.decode()
    assert "30天内到期的认定" in body and "名单导入待确认" in body


def test_login_required(client, person):
    for url in (reverse("beneficiaries:index"), reverse("beneficiaries:person_detail", args=[person.pk]),
                reverse("beneficiaries:import_list"), reverse("beneficiaries:subsidy_roster")):
        assert client.get(url).status_code == 302


def test_policy_2_web_import_by_other_agency_cannot_import_its_categories(as_user, veterans_certifier, civil_agency,
                                                                          django_capture_on_commit_callbacks, settings, tmp_path):
    """A crafted POST naming another agency changes nothing: the batch is the uploader's agency."""
    settings.MEDIA_ROOT = tmp_path
    c = as_user(veterans_certifier)
    data = roster_csv([(idnumber.make("110105", date(1962, 2, 2), 41), "周八", "minimum_living", "2023-01-01", "", "")])
    with django_capture_on_commit_callbacks(execute=True):
        _upload(c, data, agency=civil_agency.pk, agency_code=civil_agency.code)
    batch = ImportBatch.objects.get()
    assert batch.agency == veterans_certifier.staff_profile.agency
    assert (batch.created_count, batch.rejected_count) == (0, 1) and batch.errors[0]["code"] == "wrong_agency"
    with django_capture_on_commit_callbacks(execute=True):
        c.post(reverse("beneficiaries:import_confirm", args=[batch.pk]))
    assert not Certification.objects.exists() and not Person.objects.exists()


def test_certifier_cannot_find_persons_by_another_agency_category(as_user, civil_certifier, caseworker, person, district):
    """PIPL (health data): filtering by a category the user may not see must not reveal who holds it."""
    CertificationFactory(person=person, category=category("hiv_patient"), valid_from=date(2023, 1, 1))
    other = PersonFactory(hukou_district=district, name="无关者")
    url = reverse("beneficiaries:index")
    response = as_user(civil_certifier).get(url, {"category": category("hiv_patient").pk})
    body = response.content.decode()
    assert person.name not in body and other.name not in body  # invalid choice: no match shown
    assert "艾滋病" not in body
    body = as_user(caseworker).get(url, {"category": category("hiv_patient").pk}).content.decode()
    assert person.name in body and other.name not in body


def test_person_edit_screen_keeps_history(as_user, civil_certifier, auditor, other_caseworker, person):
    url = reverse("beneficiaries:person_edit", args=[person.pk])
    c = as_user(civil_certifier)
    assert c.get(url).status_code == 200
    response = c.post(url, {"name": person.name, "hukou_district": person.hukou_district_id, "insurance_type": "resident",
                            "disability_grade": "1", "phone": "13800000000", "address": "劲松"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.disability_grade, person.phone) == (1, "13800000000")
    assert person.history.first().history_user == civil_certifier and person.history.count() == 2
    assert as_user(auditor).get(url).status_code == 403
    assert as_user(other_caseworker).get(url).status_code == 404


def test_policy_5_person_edit_sets_contribution_paid_year_and_detail_shows_it(as_user, caseworker, person):
    url = reverse("beneficiaries:person_edit", args=[person.pk])
    c = as_user(caseworker)
    assert "个人已自行缴费的最近年度" in c.get(url).content.decode()
    data = {"name": person.name, "hukou_district": person.hukou_district_id, "insurance_type": "resident",
            "disability_grade": "", "phone": "", "address": "", "contribution_paid_year": "2024"}
    assert c.post(url, data).status_code == 302
    person.refresh_from_db()
    assert person.contribution_paid_year == 2024
    body = c.get(reverse("beneficiaries:person_detail", args=[person.pk])).content.decode()
    assert "个人已自行缴费的最近年度" in body and "2024" in body


@pytest.mark.parametrize("value", ["1999", "abc", "beyond_next_year"])
def test_policy_5_person_edit_rejects_a_bad_contribution_year_with_a_field_error(as_user, caseworker, person, value):
    from django.utils import timezone

    if value == "beyond_next_year":
        value = str(timezone.localdate().year + 2)
    data = {"name": person.name, "hukou_district": person.hukou_district_id, "insurance_type": "resident",
            "disability_grade": "", "phone": "", "address": "", "contribution_paid_year": value}
    response = as_user(caseworker).post(reverse("beneficiaries:person_edit", args=[person.pk]), data)
    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()
    assert list(errors) == ["contribution_paid_year"]
    assert errors["contribution_paid_year"][0].code == ("invalid" if value == "abc" else "invalid_year")
    person.refresh_from_db()
    assert person.contribution_paid_year is None


def test_policy_5_contribution_paid_year_edit_is_scoped_like_other_person_edits(as_user, auditor, other_caseworker, person):
    url = reverse("beneficiaries:person_edit", args=[person.pk])
    data = {"name": person.name, "hukou_district": person.hukou_district_id, "insurance_type": "resident",
            "contribution_paid_year": "2024"}
    assert as_user(auditor).post(url, data).status_code == 403
    assert as_user(other_caseworker).post(url, data).status_code == 404
    person.refresh_from_db()
    assert person.contribution_paid_year is None


def test_policy_5_ningbo_timing_roster_screen_and_exports_show_covered_from(as_user, ningbo):
    from organizations import roles
    from tests.factories import make_staff

    user = make_staff(roles.CASEWORKER, district=ningbo)
    new = PersonFactory(hukou_district=ningbo, name="新认定")
    paid = PersonFactory(hukou_district=ningbo, name="已缴费", contribution_paid_year=2024)
    old = PersonFactory(hukou_district=ningbo, name="老对象")
    for p, approved_on in ((new, date(2024, 5, 10)), (paid, date(2024, 5, 10)), (old, date(2022, 1, 1))):
        CertificationFactory(person=p, category=category("minimum_living"), valid_from=approved_on)
    c = as_user(user)
    body = c.get(reverse("beneficiaries:subsidy_roster"), {"year": 2024}).content.decode()
    assert "参保生效日期" in body and "2024-06-01" in body and "当年已参保的次年资助" in body  # the rule is explained
    assert "新认定" in body and "老对象" in body and "已缴费" not in body
    lines = c.get(reverse("beneficiaries:subsidy_roster"), {"year": 2024, "format": "csv"}).content.decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    assert header[-2:] == ["政策依据", "参保生效日期"] and header[0] == "序号"  # appended at the end
    by_name = {line.split(",")[1]: line.split(",") for line in lines[1:]}
    assert set(by_name) == {"新认定", "老对象"}
    assert by_name["新认定"][-1] == "2024-06-01" and "次月生效" in by_name["新认定"][-2]
    assert by_name["老对象"][-1] == "" and "次月生效" not in by_name["老对象"][-2]
    xlsx = c.get(reverse("beneficiaries:subsidy_roster"), {"year": 2024, "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-1] == "参保生效日期" and {r[1]: r[-1] for r in rows[1:]} == {"新认定": "2024-06-01", "老对象": None}


def test_policy_5_roster_region_is_chosen_by_users_without_a_region(as_user, ningbo, caseworker):
    """A superuser (no region scope) picks the region (Ningbo here, not the first by code); a
    region-scoped caseworker always gets their own region, whatever the URL says."""
    from django.contrib.auth import get_user_model

    from organizations.models import Region

    p = PersonFactory(hukou_district=ningbo, name="宁波对象")
    CertificationFactory(person=p, category=category("minimum_living"), valid_from=date(2022, 1, 1))
    root = get_user_model().objects.create_superuser("root-roster", password="x-Root-roster-2026")
    url = reverse("beneficiaries:subsidy_roster")
    first = Region.objects.order_by("code").first()
    assert first.code != "330200"
    body = as_user(root).get(url, {"year": 2024}).content.decode()
    assert 'name="region"' in body and "宁波对象" not in body  # default: the first region
    response = as_user(root).get(url, {"year": 2024, "region": ningbo.region_id})
    body = response.content.decode()
    assert response.context["region"] == ningbo.region, response.context["form"].errors
    assert [r.name for r in response.context["rows"]] == ["宁波对象"]
    assert "宁波对象" in body and f"region={ningbo.region_id}&format=csv" in body
    csv_lines = as_user(root).get(url, {"year": 2024, "region": ningbo.region_id, "format": "csv"}).content.decode("utf-8-sig")
    assert "宁波对象" in csv_lines
    own = as_user(caseworker).get(url, {"year": 2024, "region": ningbo.region_id}).content.decode()
    assert 'name="region"' not in own and "宁波对象" not in own


def test_household_member_remove(as_user, civil_certifier, other_caseworker, person, district):
    from beneficiaries import services

    member = PersonFactory(hukou_district=district)
    household = services.household_create(head=person, by=civil_certifier)
    services.household_add_member(household=household, person=member, relation="spouse", by=civil_certifier)
    url = reverse("beneficiaries:household_member_remove", args=[person.pk, member.pk])
    assert as_user(other_caseworker).post(url).status_code == 404
    assert as_user(civil_certifier).post(url).status_code == 302
    member.refresh_from_db()
    assert member.household_id is None and member.history.first().household_id is None
    assert member.history.all()[1].household_id == household.pk  # the membership stays in history
    # the head cannot leave while others remain
    services.household_add_member(household=household, person=member, relation="spouse", by=civil_certifier)
    as_user(civil_certifier).post(reverse("beneficiaries:household_member_remove", args=[person.pk, person.pk]))
    person.refresh_from_db()
    assert person.household_id == household.pk


def test_register_unknown_region_code_warns_and_registers(as_user, civil_certifier, district):
    number = idnumber.make("110199", date(1955, 5, 5), 31)
    response = as_user(civil_certifier).post(reverse("beneficiaries:person_register"), {
        "id_number": number, "name": "旧码人", "hukou_district": district.pk, "insurance_type": "resident"}, follow=True)
    assert Person.objects.filter(id_number=number, hukou_district=district).exists()
    assert "110199" in response.content.decode() and "旧代码" in response.content.decode()


def test_import_that_ends_certifications_lists_each_and_asks_first(as_user, civil_certifier, civil_agency, district,
                                                                   django_capture_on_commit_callbacks, settings, tmp_path):
    """Issue 18: "终止名单外人员的认定" ended 5 certifications of 4 people and showed only "终止 5",
    one end date moved earlier. The preview now names each person, old → new end date, marks
    the earlier one, and confirming asks first."""
    settings.MEDIA_ROOT = tmp_path
    kept = PersonFactory(hukou_district=district, name="留名")
    open_ended = PersonFactory(hukou_district=district, name="甲终")
    ends_later = PersonFactory(hukou_district=district, name="乙提前")
    for person, until in ((kept, None), (open_ended, None), (ends_later, date(2025, 12, 31))):
        CertificationFactory(person=person, category=category("minimum_living"), agency=civil_agency,
                             valid_from=date(2022, 1, 1), valid_until=until)
    data = roster_csv([(kept.id_number, kept.name, "minimum_living", "2022-01-01", "", "")])
    c = as_user(civil_certifier)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(c, data, roster_date="2024-06-30", revoke_missing="on")
    batch = ImportBatch.objects.get()
    assert batch.revoked_count == 2
    by_name = {e["name"]: e for e in batch.endings}
    assert by_name["甲终"]["old_until"] == "" and by_name["甲终"]["new_until"] == "2024-06-30"
    assert not by_name["甲终"]["earlier"]
    assert by_name["乙提前"]["old_until"] == "2025-12-31" and by_name["乙提前"]["earlier"]
    detail = c.get(reverse("beneficiaries:import_detail", args=[batch.pk])).content.decode()
    assert "甲终" in detail and "乙提前" in detail and "2025-12-31" in detail and "提前" in detail
    assert "终止日期将早于原定终止日期" in detail
    page = c.post(reverse("beneficiaries:import_confirm", args=[batch.pk]))
    assert page.status_code == 200 and "确认导入并终止" in page.content.decode() and "乙提前" in page.content.decode()
    batch.refresh_from_db()
    assert batch.status == ImportStatus.PREVIEWED
    with django_capture_on_commit_callbacks(execute=True):
        c.post(reverse("beneficiaries:import_confirm", args=[batch.pk]), {"confirmed": "1"})
    batch.refresh_from_db()
    assert batch.status == ImportStatus.APPLIED
    assert open_ended.certifications.get().valid_until == date(2024, 6, 30)


def test_issue_20_person_detail_query_count_does_not_grow_with_the_bills(as_user, caseworker, person, district,
                                                                           django_assert_num_queries):
    """Issue 20: the person detail page issues the same number of queries for 3 bills as for 40."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import BillFactory

    c = as_user(caseworker)
    url = reverse("beneficiaries:person_detail", args=[person.pk])

    def count(n: int) -> int:
        for i in range(n):
            BillFactory(person=person, district=district, discharge_date=date(2024, 1 + i % 12, 5),
                        admission_date=date(2024, 1 + i % 12, 1))
        c.get(url)  # warm
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        return len(ctx.captured_queries)

    few = count(3)
    many = count(37)
    assert few == many
    with django_assert_num_queries(few):
        c.get(url)
