"""PIPL minimum necessary (issue 15): no page completes a masked ID number; a full number is
shown for a purpose chosen from a list; every reveal, export and API read of personal data is
in an append-only access log the auditor can search and export, kept at least 183 days."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import RETENTION_DAYS, AccessLog, Action, AppendOnlyError
from audit.services import record
from beneficiaries import idnumber, services
from beneficiaries.models import IdRevealLog
from tests.conftest import is_postgres

pytestmark = pytest.mark.django_db


def _birth_date_forms(person) -> list[str]:
    born = person.birth_date
    return [person.id_number[6:14], f"{born:%Y-%m-%d}", f"{born:%Y/%m/%d}", f"{born.year}年{born.month}月{born.day}日"]


def _no_page_completes_the_mask(body: str, person) -> None:
    assert person.masked_id_number in body
    for text in _birth_date_forms(person):
        assert text not in body, f"{text} beside {person.masked_id_number} completes the ID number"


# -- the mask is not completed by another field ----------------------------------------------


def test_person_list_detail_and_admin_show_age_not_birth_date(client, caseworker, admin_user, person):
    client.force_login(caseworker)
    for url in (reverse("beneficiaries:index"), reverse("beneficiaries:person_detail", args=[person.pk])):
        body = client.get(url).content.decode()
        _no_page_completes_the_mask(body, person)
        assert f"{person.age}岁" in body or f"<td>{person.age}</td>" in body
    client.force_login(admin_user)
    body = client.get(reverse("admin:beneficiaries_person_changelist")).content.decode()
    _no_page_completes_the_mask(body, person)


def test_birth_date_is_shown_only_with_the_reveal(client, caseworker, person):
    client.force_login(caseworker)
    body = client.post(reverse("beneficiaries:person_reveal", args=[person.pk]), {"purpose": "verify_identity"}).content.decode()
    assert person.id_number in body and f"{person.birth_date:%Y-%m-%d}" in body


def test_household_members_show_age_not_birth_date(client, caseworker, person, district):
    from tests.factories import PersonFactory

    household = services.household_create(head=person, by=caseworker)
    member = PersonFactory(hukou_district=district, name="张小三")
    services.household_add_member(household=household, person=member, relation="child", by=caseworker)
    client.force_login(caseworker)
    body = client.get(reverse("beneficiaries:person_detail", args=[person.pk])).content.decode()
    member.refresh_from_db()
    _no_page_completes_the_mask(body, member)


def test_age_counts_full_years():
    from datetime import date

    assert idnumber.age_on(date(1980, 3, 15), date(2026, 3, 14)) == 45
    assert idnumber.age_on(date(1980, 3, 15), date(2026, 3, 15)) == 46


# -- reveal: a purpose from the list -----------------------------------------------------------


@pytest.mark.parametrize("purpose", ["", "  ", "随便看看", "verify_identity\x00"])
def test_reveal_without_a_listed_purpose_shows_nothing_and_logs_nothing(client, caseworker, person, purpose):
    client.force_login(caseworker)
    response = client.post(reverse("beneficiaries:person_reveal", args=[person.pk]), {"purpose": purpose})
    assert response.status_code == 400
    assert person.id_number not in response.content.decode()
    assert not IdRevealLog.objects.exists() and not AccessLog.objects.exists()


def test_reveal_service_refuses_an_empty_purpose_whoever_calls_it(caseworker, person):
    with pytest.raises(ValidationError):
        services.id_number_reveal(user=caseworker, person=person, purpose="")
    assert not AccessLog.objects.exists()


def test_reveal_is_in_the_access_log_who_what_whose_why_when(client, caseworker, person):
    client.force_login(caseworker)
    before = timezone.now()
    client.post(reverse("beneficiaries:person_reveal", args=[person.pk]), {"purpose": "payment", "note": "核对银行户名"})
    entry = AccessLog.objects.get()
    assert (entry.user, entry.username, entry.action, entry.person, entry.purpose, entry.note) == (
        caseworker, "caseworker", Action.REVEAL, person, "payment", "核对银行户名")
    assert entry.at >= before and entry.ip == "127.0.0.1"
    assert person.id_number not in entry.what + entry.note + entry.subjects


def test_reveal_refused_for_auditor_is_not_logged(client, auditor, person):
    client.force_login(auditor)
    assert client.post(reverse("beneficiaries:person_reveal", args=[person.pk]), {"purpose": "supervision"}).status_code == 403
    with pytest.raises(PermissionDenied):
        services.id_number_reveal(user=auditor, person=person, purpose="supervision")
    assert not AccessLog.objects.exists()


# -- exports are logged ------------------------------------------------------------------------


@pytest.mark.parametrize("url_name,query", [
    ("beneficiaries:subsidy_roster", "format=csv"),
    ("beneficiaries:subsidy_roster", "format=xlsx"),
    ("claims:index", "export=csv"),
    ("claims:bills", "export=xlsx"),
    ("reports:report", "export=csv"),
])
def test_every_bulk_export_is_in_the_access_log(client, caseworker, person, url_name, query):
    client.force_login(caseworker)
    url = reverse(url_name, args=["beneficiaries"]) if url_name == "reports:report" else reverse(url_name)
    response = client.get(f"{url}?{query}")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    entry = AccessLog.objects.get()
    assert (entry.user, entry.action) == (caseworker, Action.EXPORT)
    assert url_name in entry.what and query in entry.subjects
    assert "no-store" in response["Cache-Control"]


def test_file_templates_without_personal_data_are_not_logged(client, caseworker):
    client.force_login(caseworker)
    assert client.get(reverse("beneficiaries:import_template")).status_code == 200
    assert not AccessLog.objects.exists()


# -- append-only -------------------------------------------------------------------------------


def _entry(user, **kw) -> AccessLog:
    return record(user=user, action=Action.EXPORT, what="test", **kw)


def test_access_log_rows_cannot_be_changed_or_deleted_through_the_orm(caseworker):
    entry = _entry(caseworker)
    entry.what = "changed"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AccessLog.objects.filter(pk=entry.pk).update(what="changed")
    with pytest.raises(AppendOnlyError):
        AccessLog.objects.all().delete()
    assert AccessLog.objects.get().what == "test"


def test_access_log_refuses_update_in_the_database(caseworker):
    entry = _entry(caseworker)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_accesslog SET what = 'changed' WHERE id = %s", [entry.pk])
    assert AccessLog.objects.get().what == "test"


@pytest.mark.skipif(not is_postgres(), reason="the DELETE trigger is PostgreSQL's (SQLite test flush deletes rows)")
def test_access_log_refuses_delete_of_a_recent_row_in_the_database(caseworker):
    entry = _entry(caseworker)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_accesslog WHERE id = %s", [entry.pk])
    assert AccessLog.objects.filter(pk=entry.pk).exists()


def test_admin_offers_no_add_change_or_delete(client, admin_user, caseworker):
    entry = _entry(caseworker)
    client.force_login(admin_user)
    assert client.get(reverse("admin:audit_accesslog_changelist")).status_code == 200
    assert client.get(reverse("admin:audit_accesslog_add")).status_code == 403
    assert client.post(reverse("admin:audit_accesslog_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    client.post(reverse("admin:audit_accesslog_change", args=[entry.pk]), {"what": "changed"})
    assert AccessLog.objects.get().what == "test"


# -- retention: six months at least -----------------------------------------------------------


def test_purge_refuses_rows_younger_than_183_days(caseworker):
    now = timezone.now()
    old = _entry(caseworker)  # created now
    ancient = AccessLog.objects.create(user=caseworker, username="caseworker", action=Action.EXPORT, what="old",
                                       at=now - timedelta(days=RETENTION_DAYS + 20))
    recent = AccessLog.objects.create(user=caseworker, username="caseworker", action=Action.EXPORT, what="recent",
                                      at=now - timedelta(days=RETENTION_DAYS - 1))
    for args in (["--older-than-days", "182"], ["--older-than-days", "0"], ["--before", f"{timezone.localdate():%Y-%m-%d}"],
                 ["--before", f"{(now - timedelta(days=100)):%Y-%m-%d}"]):
        with pytest.raises(CommandError, match="refused"):
            call_command("purge_access_log", *args)
    with pytest.raises(AppendOnlyError):
        AccessLog.objects.purge_before(now)
    assert AccessLog.objects.count() == 3
    call_command("purge_access_log", "--older-than-days", str(RETENTION_DAYS))
    assert set(AccessLog.objects.values_list("pk", flat=True)) == {old.pk, recent.pk}
    assert not AccessLog.objects.filter(pk=ancient.pk).exists()


# -- the auditor's screen ---------------------------------------------------------------------


def test_auditor_searches_the_log_by_user_person_date_and_action(client, auditor, caseworker, reviewer, person, other_person):
    services.id_number_reveal(user=caseworker, person=person, purpose="verify_identity")
    _entry(reviewer)
    client.force_login(auditor)
    url = reverse("audit:access_log")
    today = timezone.localdate().isoformat()
    body = client.get(url).content.decode()
    assert "caseworker" in body and "reviewer" in body
    body = client.get(url, {"user": "casework"}).content.decode()
    assert "caseworker" in body and ">reviewer<" not in body
    body = client.get(url, {"person": person.name, "action": "reveal", "start": today, "end": today}).content.decode()
    assert person.name in body and person.masked_id_number in body and person.id_number not in body
    body = client.get(url, {"action": "api_read"}).content.decode()
    assert "没有符合条件的记录" in body
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert "没有符合条件的记录" in client.get(url, {"end": yesterday}).content.decode()


def test_auditor_exports_the_log_and_the_export_is_logged(client, auditor, caseworker, person):
    services.id_number_reveal(user=caseworker, person=person, purpose="verify_identity")
    client.force_login(auditor)
    response = client.get(reverse("audit:access_log"), {"action": "reveal", "export": "csv"})
    text = response.content.decode("utf-8-sig")
    assert response.status_code == 200 and "caseworker" in text and person.masked_id_number in text
    assert person.id_number not in text
    assert response["Cache-Control"] == "no-store"
    exported = AccessLog.objects.get(action=Action.LOG_EXPORT)
    assert exported.user == auditor and "action=reveal" in exported.subjects
    assert AccessLog.objects.count() == 2  # the reveal and the log export, not a second export row


def test_only_the_auditor_reads_the_log(client, caseworker, reviewer, civil_certifier):
    for user in (caseworker, reviewer, civil_certifier):
        client.force_login(user)
        assert client.get(reverse("audit:access_log")).status_code == 403


def test_a_district_auditor_sees_only_their_district(client, district, other_district, caseworker, other_caseworker,
                                                     person, other_person):
    from organizations import roles
    from tests.factories import make_staff

    services.id_number_reveal(user=caseworker, person=person, purpose="verify_identity")
    services.id_number_reveal(user=other_caseworker, person=other_person, purpose="verify_identity")
    local = make_staff(roles.AUDITOR, district=district, username="district-auditor")
    client.force_login(local)
    body = client.get(reverse("audit:access_log")).content.decode()
    assert person.name in body and other_person.name not in body
