"""Settlement import: columns, bad rows named by line and field, idempotency, differences."""
from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import call_command

from claims.imports import COLUMNS, import_settlements
from claims.models import Bill, PaymentAdjustment

pytestmark = pytest.mark.django_db

HEADER = ",".join(COLUMNS)


def good_row(person, institution, no="JS0001", paid="17000.00", **kw) -> str:
    values = {
        "settlement_no": no, "institution_code": institution.code, "id_number": person.id_number,
        "visit_type": "inpatient", "admission_date": "2023-03-01", "discharge_date": "2023-03-10",
        "diagnosis_code": "C34.9", "total_cost": "31000.00", "policy_scope_cost": "30000.00", "basic_paid": "10000.00",
        "critical_paid": "0", "other_paid": "0", "assistance_paid": paid, "referral_compliant": "1", "in_province": "1",
    }
    values.update(kw)
    return ",".join(values[c] for c in COLUMNS)


def csv_bytes(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def test_import_creates_computes_and_is_idempotent(person, institution):
    data = csv_bytes(good_row(person, institution))
    report = import_settlements(data=data, file_name="s.csv")
    assert (report.created, report.unchanged, report.rejected, len(report.differences)) == (1, 0, 0, 0)
    bill = Bill.objects.get()
    assert bill.hospital_assistance_paid == Decimal("17000.00") and bill.total_assistance == Decimal("17000.00")
    again = import_settlements(data=data, file_name="s.csv")
    assert (again.created, again.unchanged, again.rejected) == (0, 1, 0)
    assert Bill.objects.count() == 1


@pytest.mark.parametrize(("changes", "field"), [
    ({"basic_paid": "-5"}, "basic_paid"),
    ({"total_cost": "100", "policy_scope_cost": "200", "basic_paid": "0"}, "policy_scope_cost"),
    ({"policy_scope_cost": "10000", "basic_paid": "9000", "critical_paid": "2000"}, "basic_paid"),
    ({"visit_type": "dental"}, "visit_type"),
    ({"discharge_date": "2023-13-01"}, "discharge_date"),
    ({"institution_code": "NOPE"}, "institution_code"),
    ({"id_number": "110105197001010000"}, "id_number"),
    ({"total_cost": "abc"}, "total_cost"),
    ({"referral_compliant": "maybe"}, "referral_compliant"),
])
def test_policy_1_bad_rows_rejected_naming_line_and_field(person, institution, changes, field):
    data = csv_bytes(good_row(person, institution, no="A1"), good_row(person, institution, no="A2", **changes))
    report = import_settlements(data=data, file_name="s.csv")
    assert report.created == 1 and report.rejected == 1
    [error] = report.errors
    assert (error.line, error.field) == (3, field)
    assert error.as_text().startswith(f"row 3: {field}: ")


def test_gb_5_7_unknown_person_without_a_name_is_a_rejected_row(person, institution):
    """A person not yet registered is kept as a non-beneficiary (POLICY.md §9), but only with a
    name to register them by: a file in our columns without 姓名 names the missing field.
    (Before 2026-12 every unknown number was rejected; tests/claims/test_unregistered.py.)"""
    from datetime import date

    from beneficiaries import idnumber

    stranger = idnumber.make("110105", date(1980, 5, 5), 123)
    report = import_settlements(data=csv_bytes(good_row(person, institution, id_number=stranger)), file_name="s.csv")
    assert report.rejected == 1 and report.errors[0].field == "psn_name"


def test_changed_content_under_same_number_is_rejected_not_overwritten(person, institution):
    import_settlements(data=csv_bytes(good_row(person, institution)), file_name="s.csv")
    report = import_settlements(data=csv_bytes(good_row(person, institution, total_cost="99999.00")), file_name="s.csv")
    assert report.rejected == 1 and report.errors[0].field == "settlement_no"
    assert Bill.objects.get().total_cost == Decimal("31000.00")


def test_difference_with_hospital_figure_is_listed_for_review(person, institution):
    report = import_settlements(data=csv_bytes(good_row(person, institution, paid="16000.00")), file_name="s.csv")
    [diff] = report.differences
    assert (diff.line, diff.computed, diff.paid) == (2, Decimal("17000.00"), Decimal("16000.00"))
    adj = PaymentAdjustment.objects.get()
    assert adj.kind == "supplementary" and adj.amount == Decimal("1000.00")


def test_dry_run_applies_nothing_but_counts_everything(person, institution):
    report = import_settlements(data=csv_bytes(good_row(person, institution, paid="1.00")), file_name="s.csv", dry_run=True)
    assert report.created == 1 and len(report.differences) == 1
    assert not Bill.objects.exists() and not PaymentAdjustment.objects.exists()


def test_xlsx_file(person, institution):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(COLUMNS))
    sheet.append(good_row(person, institution).split(","))
    buf = io.BytesIO()
    book.save(buf)
    report = import_settlements(data=buf.getvalue(), file_name="s.xlsx")
    assert report.created == 1 and report.rejected == 0


def test_wrong_header_is_a_file_error(person, institution):
    from claims.imports import SettlementFileError

    with pytest.raises(SettlementFileError):
        import_settlements(data=b"a,b,c\n1,2,3\n", file_name="s.csv")


class TestCommand:
    def test_output_and_exit_status(self, person, institution, tmp_path, capsys):
        path = tmp_path / "s.csv"
        path.write_bytes(csv_bytes(good_row(person, institution, no="C1"), good_row(person, institution, no="C2", basic_paid="-1")))
        with pytest.raises(SystemExit) as exc:
            call_command("import_settlements", str(path))
        assert exc.value.code == 1
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "created 1, unchanged 0, rejected 1, differences 0"
        assert out[1].startswith("row 3: basic_paid: ")

    def test_dry_run_applies_nothing(self, person, institution, tmp_path, capsys):
        path = tmp_path / "s.csv"
        path.write_bytes(csv_bytes(good_row(person, institution)))
        call_command("import_settlements", str(path), "--dry-run")
        assert capsys.readouterr().out.startswith("created 1, unchanged 0, rejected 0")
        assert not Bill.objects.exists()
        call_command("import_settlements", str(path))
        call_command("import_settlements", str(path))
        assert "created 0, unchanged 1, rejected 0" in capsys.readouterr().out


def test_district_upload_rejects_people_of_other_districts(person, institution, other_district):
    from tests.factories import PersonFactory

    outsider = PersonFactory(hukou_district=other_district)
    data = csv_bytes(good_row(person, institution, no="D1"), good_row(outsider, institution, no="D2"))
    report = import_settlements(data=data, file_name="s.csv", district_ids={person.hukou_district_id})
    assert report.created == 1 and [(e.line, e.field) for e in report.errors] == [(3, "id_number")]
