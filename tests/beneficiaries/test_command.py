from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from beneficiaries import idnumber
from beneficiaries.models import Certification, ImportBatch, Person
from tests.factories import CertificationFactory, PersonFactory, category

from .conftest import roster_csv

pytestmark = pytest.mark.django_db


def _run(*args):
    out = io.StringIO()
    code = 0
    try:
        call_command("import_roster", *args, stdout=out)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()


def _file(tmp_path, rows, name="roster.csv", header=None):
    path = tmp_path / name
    path.write_bytes(roster_csv(rows, header=header) if header else roster_csv(rows))
    return str(path)


def test_command_output_format_and_exit_status(tmp_path, civil_agency):
    good = idnumber.make("110105", date(1971, 7, 7), 1)
    path = _file(tmp_path, [
        (good, "甲", "minimum_living", "2023-01-01", "", "京朝民〔2023〕1号"),
        ("11010519700101001", "乙", "minimum_living", "2023-01-01", "", ""),
        (idnumber.make("110105", date(1971, 7, 7), 3), "丙", "unknown", "2023-01-01", "", ""),
    ])
    code, out = _run(path, "--agency", civil_agency.code)
    assert code == 1
    assert out.splitlines() == [
        "created 1, unchanged 0, revoked 0, rejected 2",
        "row 3: id_number: 身份证号应为18位，当前为17位",
        "row 4: category: 未知类别“unknown”",
    ]
    batch = ImportBatch.objects.get()
    assert (batch.source, batch.file_name, batch.created_count, batch.rejected_count) == ("command", "roster.csv", 1, 2)
    assert len(batch.sha256) == 64
    code, out = _run(path, "--agency", civil_agency.code)
    assert out.splitlines()[0] == "created 0, unchanged 1, revoked 0, rejected 2"


def test_command_exit_zero_when_all_rows_valid_with_chinese_headers(tmp_path, civil_agency):
    path = _file(tmp_path, [(idnumber.make("110105", date(1971, 7, 7), 1), "甲", "特困人员", "2023-01-01", "", "")],
                 header="身份证号,姓名,类别,起始日期,终止日期,文号")
    code, out = _run(path, "--agency", civil_agency.code)
    assert (code, out) == (0, "created 1, unchanged 0, revoked 0, rejected 0\n")


def test_command_dry_run_applies_nothing(tmp_path, civil_agency, district):
    kept = PersonFactory(hukou_district=district)
    CertificationFactory(person=PersonFactory(hukou_district=district), category=category("minimum_living"),
                         agency=civil_agency, valid_from=date(2022, 1, 1))
    path = _file(tmp_path, [(kept.id_number, kept.name, "minimum_living", "2023-01-01", "", ""),
                            (idnumber.make("110105", date(1971, 7, 7), 1), "甲", "minimum_living", "2023-01-01", "", "")])
    before = (Person.objects.count(), Certification.objects.count(), Certification.history.count())
    code, out = _run(path, "--agency", civil_agency.code, "--dry-run", "--revoke-missing", "2024-01-31")
    assert code == 0
    assert out == "created 2, unchanged 0, revoked 1, rejected 0\n"
    assert (Person.objects.count(), Certification.objects.count(), Certification.history.count()) == before
    assert not ImportBatch.objects.exists()
    assert Certification.objects.filter(valid_until__isnull=False).count() == 0


def test_command_revoke_missing(tmp_path, civil_agency, district):
    gone = PersonFactory(hukou_district=district)
    CertificationFactory(person=gone, category=category("minimum_living"), agency=civil_agency, valid_from=date(2022, 1, 1))
    path = _file(tmp_path, [(idnumber.make("110105", date(1971, 7, 7), 1), "甲", "minimum_living", "2023-01-01", "", "")])
    code, out = _run(path, "--agency", civil_agency.code, "--revoke-missing", "2024-01-31")
    assert (code, out) == (0, "created 1, unchanged 0, revoked 1, rejected 0\n")
    assert gone.certifications.get().valid_until == date(2024, 1, 31)


def test_command_unknown_agency_and_bad_date(tmp_path, civil_agency):
    path = _file(tmp_path, [])
    with pytest.raises(CommandError):
        call_command("import_roster", path, "--agency", "nope")
    with pytest.raises(CommandError):
        call_command("import_roster", path, "--agency", civil_agency.code, "--revoke-missing", "31.01.2024")
