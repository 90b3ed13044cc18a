"""Settlement records of people not yet registered (国办 五(七); POLICY.md §9, issue 13).

A row for a valid ID number nobody registered is kept: the person is registered as a
non-beneficiary in the importing office's district (no certification, marked as registered by
the settlement import, ID number encrypted and hashed like every Person), the bill recorded with
zero assistance, and the preview counts and notes such rows. Before 2026-12 each was a rejected
row (「该身份证号未登记为救助对象」), so every test here fails on the old code.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from beneficiaries import idnumber
from beneficiaries.models import Certification, Person
from claims.imports import COLUMNS, import_settlements
from claims.models import Bill

from .test_imports import good_row

pytestmark = pytest.mark.django_db

HEADER = ",".join((*COLUMNS, "psn_name"))
STRANGER = idnumber.make("110105", date(1980, 5, 5), 123)


def row(person_or_number, institution, name="王五", **kw) -> str:
    class _P:
        id_number = person_or_number if isinstance(person_or_number, str) else person_or_number.id_number

    return good_row(_P, institution, **kw) + "," + name


def csv_bytes(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def test_gb_5_7_unregistered_settlement_imported_as_non_beneficiary(person, institution, district):
    data = csv_bytes(row(person, institution, no="K1", name=person.name),
                     row(STRANGER, institution, no="K2", paid=""))
    report = import_settlements(data=data, file_name="s.csv")
    assert (report.created, report.rejected, report.unregistered, report.persons_registered) == (2, 0, 1, 1)
    [note] = report.notes
    assert (note.line, note.field) == (3, "id_number") and idnumber.mask(STRANGER) in note.message
    stranger = Person.objects.get(id_number=STRANGER)
    assert stranger.name == "王五" and stranger.hukou_district == district
    assert stranger.registration_source == "settlement_file"
    assert not Certification.objects.filter(person=stranger).exists()
    # one-person household: early warnings are per household
    assert stranger.household is not None and stranger.relation == "head"
    bill = Bill.objects.get(settlement_no="K2")
    assert bill.person == stranger and bill.total_assistance == Decimal("0.00")
    assert Bill.objects.get(settlement_no="K1").total_assistance == Decimal("17000.00")
    # encrypted at rest and found by its keyed hash, like every Person
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, id_number_hash FROM beneficiaries_person WHERE id = %s", [stranger.pk])
        stored, digest = cursor.fetchone()
    assert STRANGER not in stored and digest and STRANGER not in digest
    assert stranger.history.count() == 1


def test_gb_5_7_unregistered_reimport_is_idempotent_and_one_person_per_number(person, institution):
    data = csv_bytes(row(STRANGER, institution, no="K1", paid=""), row(STRANGER, institution, no="K2", paid=""))
    report = import_settlements(data=data, file_name="s.csv")
    assert (report.created, report.unregistered, report.persons_registered) == (2, 2, 1)
    again = import_settlements(data=data, file_name="s.csv")
    assert (again.created, again.unchanged, again.rejected, again.unregistered, again.notes) == (0, 2, 0, 0, [])
    assert Person.objects.filter(id_number=STRANGER).count() == 1


def test_gb_5_7_unregistered_person_is_placed_in_the_importing_offices_district(person, institution, other_district):
    """A district office's upload registers the person in ITS district (the office that settles)."""
    report = import_settlements(data=csv_bytes(row(STRANGER, institution, no="K1", paid="")), file_name="s.csv",
                                district_ids={other_district.pk})
    assert report.created == 1 and report.rejected == 0
    assert Person.objects.get(id_number=STRANGER).hukou_district == other_district


def test_gb_5_7_unregistered_dry_run_counts_and_registers_nobody(person, institution):
    report = import_settlements(data=csv_bytes(row(STRANGER, institution, no="K1", paid="")), file_name="s.csv",
                                dry_run=True)
    assert (report.created, report.unregistered, len(report.notes)) == (1, 1, 1)
    assert not Person.objects.filter(id_number=STRANGER).exists() and not Bill.objects.exists()


@pytest.mark.parametrize(("changes", "field"), [
    ({"id_number": "110105198005051230"}, "id_number"),  # wrong check digit
    ({"id_number": "11010519800505"}, "id_number"),      # too short
    ({"name": ""}, "psn_name"),                          # nobody to register
])
def test_gb_5_7_invalid_id_number_is_still_a_row_error(person, institution, changes, field):
    number = changes.pop("id_number", STRANGER)
    data = csv_bytes(row(person, institution, no="K1", name=person.name),
                     row(number, institution, no="K2", paid="", **changes))
    report = import_settlements(data=data, file_name="s.csv")
    assert report.created == 1 and report.rejected == 1 and report.unregistered == 0
    [error] = report.errors
    assert (error.line, error.field) == (3, field)
    assert Person.objects.count() == 1


def test_gb_5_7_unregistered_name_differs_between_rows_is_a_row_error(person, institution):
    data = csv_bytes(row(STRANGER, institution, no="K1", paid=""), row(STRANGER, institution, no="K2", paid="", name="王六"))
    report = import_settlements(data=data, file_name="s.csv")
    assert report.created == 1 and [(e.line, e.field) for e in report.errors] == [(3, "psn_name")]


def test_gb_5_7_unregistered_command_prints_the_notes(person, institution, tmp_path, capsys):
    path = tmp_path / "s.csv"
    path.write_bytes(csv_bytes(row(STRANGER, institution, no="K1", paid="")))
    call_command("import_settlements", str(path))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "created 1, unchanged 0, rejected 0, differences 0"
    assert out[1].startswith("not yet registered 1 rows (1 people")
    assert out[2].startswith("note row 2: id_number: ")
    assert Person.objects.get(id_number=STRANGER).registration_source == "settlement_file"


def test_gb_5_7_unregistered_browser_preview_shows_count_and_rows(client, caseworker, person, institution):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.utils import override_settings

    from claims.models import SettlementImport
    from claims.tasks import settlement_import_apply, settlement_import_preview

    client.force_login(caseworker)
    data = csv_bytes(row(person, institution, no="K1", name=person.name), row(STRANGER, institution, no="K2", paid=""))
    with override_settings(MEDIA_ROOT="/tmp/claims-test-media"):
        client.post(reverse("claims:imports"), {"file": SimpleUploadedFile("s.csv", data)})
        job = SettlementImport.objects.get()
        settlement_import_preview(job.pk)
        job.refresh_from_db()
        assert (job.status, job.created, job.rejected, job.unregistered) == ("previewed", 2, 0, 1)
        assert [(n["line"], n["field"]) for n in job.notes] == [(3, "id_number")]
        page = client.get(reverse("claims:import", args=[job.pk])).content.decode()
        assert 'id="unregistered-count">1<' in page and idnumber.mask(STRANGER) in page
        assert not Person.objects.filter(id_number=STRANGER).exists()
        client.post(reverse("claims:import", args=[job.pk]))
        settlement_import_apply(job.pk)
        job.refresh_from_db()
    assert job.status == "done" and job.unregistered == 1
    assert Person.objects.get(id_number=STRANGER).hukou_district == caseworker.staff_profile.district


def test_gb_5_7_unregistered_person_pages_do_not_show_a_beneficiary(client, caseworker, person, institution):
    """The list shows 非救助对象 (no active certification) and the person page how they were registered."""
    from django.utils import translation

    import_settlements(data=csv_bytes(row(STRANGER, institution, no="K1", paid="")), file_name="s.csv")
    stranger = Person.objects.get(id_number=STRANGER)
    client.force_login(caseworker)
    with translation.override("zh-hans"):
        page = client.get(reverse("beneficiaries:index"), {"name": "王五"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
        html = page.content.decode()
        assert "王五" in html and "非救助对象" in html and "（结算登记）" in html
        detail = client.get(reverse("beneficiaries:person_detail", args=[stranger.pk]),
                            HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'id="registration-source"' in detail and "结算数据导入（非救助对象）" in detail


@pytest.mark.parametrize("elsewhere", [False, True])
def test_gb_5_7_unregistered_person_registered_meanwhile_by_a_concurrent_post(person, institution, district,
                                                                               other_district, monkeypatch, elsewhere):
    """A hospital's API post registers the person between the file's reading and its writing: the
    keyed hash refuses a second Person; the import uses the one registered meanwhile (or, outside
    the office's district, rejects that row) and registers the others, instead of failing."""
    from beneficiaries.services import non_beneficiaries_register
    from claims import imports

    other = idnumber.make("110105", date(1981, 6, 6), 124)
    real = imports.new_person_district

    def racing(number, institution, district_ids, districts):
        placed = real(number, institution, district_ids, districts)
        if number == STRANGER and not Person.objects.filter(id_number=number).exists():
            non_beneficiaries_register(people={number: ("王五", other_district if elsewhere else placed, "resident")},
                                       source="settlement_api")
        return placed

    monkeypatch.setattr(imports, "new_person_district", racing)
    data = csv_bytes(row(STRANGER, institution, no="K1", paid=""), row(other, institution, no="K2", paid="", name="孙七"))
    report = import_settlements(data=data, file_name="s.csv", district_ids={district.pk}, apply_good_rows=True)
    assert Person.objects.filter(id_number=STRANGER).count() == 1
    assert Person.objects.get(id_number=other).registration_source == "settlement_file"
    if elsewhere:
        assert report.created == 1 and [(e.line, e.field) for e in report.errors] == [(2, "id_number")]
    else:
        assert report.created == 2 and report.rejected == 0 and report.unregistered == 2
        assert Bill.objects.get(settlement_no="K1").person.registration_source == "settlement_api"
