"""Settlement import in the national platform's own shape (setlinfo field names), one pipeline
for every encoding and file type, and a bad row never killing the file (issue 16)."""
from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import call_command
from django.test import override_settings

from claims.imports import PLATFORM_COLUMNS, SettlementFileError, import_settlements
from claims.models import Bill, PaymentAdjustment, SettlementRecord
from tests.claims.test_imports import csv_bytes, good_row

pytestmark = pytest.mark.django_db


def platform_row(person, institution, setl_id="S0001", **kw) -> dict[str, str]:
    values = {
        "setl_id": setl_id, "mdtrt_id": "MD" + setl_id, "psn_no": "P0001", "psn_name": person.name,
        "certno": person.id_number, "insutype": "390", "psn_type": "11", "setl_time": "2023-03-10 10:30:00",
        "begndate": "2023-03-01", "enddate": "2023-03-10", "med_type": "21", "fixmedins_code": institution.code,
        "fixmedins_name": institution.name, "medfee_sumamt": "31000.00", "inscp_scp_amt": "30000.00",
        "hifp_pay": "10000.00", "cvlserv_pay": "0", "hifes_pay": "0", "hifmi_pay": "0", "hifob_pay": "0",
        "maf_pay": "17000.00", "oth_pay": "0", "psn_part_amt": "4000.00", "hosp_part_amt": "0",
    }
    values.update(kw)
    return values


def platform_csv(*rows: dict[str, str], encoding: str = "gb18030", header=PLATFORM_COLUMNS) -> bytes:
    lines = [",".join(header)] + [",".join(r[c] for c in header) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def platform_xlsx(*rows: dict[str, str], header=PLATFORM_COLUMNS) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(header))
    for r in rows:
        sheet.append([r[c] for c in header])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def bill_state():
    return sorted(Bill.objects.values_list("settlement_no", "visit_type", "admission_date", "discharge_date",
                                           "total_cost", "policy_scope_cost", "basic_paid", "critical_paid",
                                           "other_paid", "hospital_assistance_paid", "total_assistance"))


@pytest.mark.parametrize("kind", ["gb18030", "utf-8-sig", "utf-8", "xlsx"])
def test_platform_file_gives_the_same_results_as_todays_format(person, institution, kind):
    ours = import_settlements(data=csv_bytes(good_row(person, institution, no="S0001")), file_name="s.csv")
    expected = bill_state()
    from tests.factories import InstitutionFactory

    other = InstitutionFactory(district=institution.district, code="H2", in_province=True)
    row = platform_row(person, other)
    data = platform_xlsx(row) if kind == "xlsx" else platform_csv(row, encoding=kind)
    report = import_settlements(data=data, file_name="s.xlsx" if kind == "xlsx" else "s.csv")
    assert (report.created, report.rejected, len(report.differences)) == (ours.created, 0, 0) == (1, 0, 0)
    platform = Bill.objects.get(institution=other)
    mine = Bill.objects.get(institution=institution)
    fields = ["visit_type", "admission_date", "discharge_date", "total_cost", "policy_scope_cost", "basic_paid",
              "critical_paid", "other_paid", "hospital_assistance_paid"]
    assert [getattr(platform, f) for f in fields] == [getattr(mine, f) for f in fields]
    assert len(expected) == 1
    record = platform.platform_record
    assert (record.setl_id, record.insutype, record.med_type, record.mdtrt_id) == ("S0001", "390", "21", "MDS0001")


def test_chinese_headers_are_accepted(person, institution):
    from claims.imports import CHINESE_HEADERS

    zh = {v: k for k, v in reversed(list(CHINESE_HEADERS.items()))}
    row = good_row(person, institution).split(",")
    from claims.imports import COLUMNS

    header = [zh[c] for c in COLUMNS]
    data = (",".join(header) + "\n" + ",".join(row) + "\n").encode("gb18030")
    report = import_settlements(data=data, file_name="s.csv")
    assert (report.created, report.rejected) == (1, 0)


@pytest.mark.parametrize(("code", "visit"), [
    ("11", "outpatient"), ("13", "outpatient"), ("14", "outpatient_special"), ("21", "inpatient"),
    ("22", "inpatient"), ("23", "inpatient"), ("24", "inpatient"), ("51", "maternity"), ("52", "maternity"),
])
def test_med_type_maps_to_visit_type(person, institution, code, visit):
    report = import_settlements(data=platform_csv(platform_row(person, institution, med_type=code, maf_pay="")),
                                file_name="s.csv")
    assert report.created == 1 and Bill.objects.get().visit_type == visit


def test_local_med_type_codes_are_configurable(person, institution):
    data = platform_csv(platform_row(person, institution, med_type="9901", maf_pay=""))
    report = import_settlements(data=data, file_name="s.csv")
    assert [(e.line, e.field) for e in report.errors] == [(2, "med_type")]
    with override_settings(SETTLEMENT_LOCAL_MED_TYPES={"9901": "rehabilitation"}):
        report = import_settlements(data=data, file_name="s.csv")
    assert report.created == 1 and Bill.objects.get().visit_type == "rehabilitation"


def test_other_funds_add_up_to_other_paid_and_unknown_insutype_is_a_row_error(person, institution):
    rows = [platform_row(person, institution, setl_id="A", cvlserv_pay="100", hifes_pay="200", hifob_pay="300",
                         oth_pay="400", maf_pay=""),
            platform_row(person, institution, setl_id="B", insutype="999")]
    report = import_settlements(data=platform_csv(*rows), file_name="s.csv", apply_good_rows=True)
    assert Bill.objects.get(settlement_no="A").other_paid == Decimal("1000.00")
    assert [(e.line, e.field) for e in report.errors] == [(3, "insutype")]


def test_maf_pay_is_reconciled_per_bill(person, institution):
    """maf_pay (assistance the hospital advanced) against what the product computes: listed per bill."""
    rows = [platform_row(person, institution, setl_id="R1", maf_pay="16000.00")]
    report = import_settlements(data=platform_csv(*rows), file_name="s.csv")
    [diff] = report.differences
    assert (diff.line, diff.settlement_no, diff.computed, diff.paid) == (2, "R1", Decimal("17000.00"), Decimal("16000.00"))
    assert diff.to_json()["difference"] == "1000.00"
    assert PaymentAdjustment.objects.get().amount == Decimal("1000.00")


def test_row_errors_name_the_files_own_field(person, institution):
    rows = [platform_row(person, institution, setl_id="E1"),
            platform_row(person, institution, setl_id="E2", medfee_sumamt="abc"),
            platform_row(person, institution, setl_id="E3", psn_name="李四"),
            platform_row(person, institution, setl_id="E4", enddate="2023-02-30")]
    report = import_settlements(data=platform_xlsx(*rows), file_name="s.xlsx")
    assert [(e.line, e.field) for e in report.errors] == [(3, "medfee_sumamt"), (4, "psn_name"), (5, "enddate")]


@pytest.mark.parametrize(("changes", "field"), [
    ({"total_cost": "1000000000000.00", "policy_scope_cost": "30000.00"}, "total_cost"),
    ({"diagnosis_code": "C34\x009"}, "diagnosis_code"),
    ({"settlement_no": "N\x001"}, "settlement_no"),
])
def test_huge_amount_or_nul_byte_is_one_row_error_not_a_dead_file(person, institution, changes, field):
    data = csv_bytes(good_row(person, institution, no="OK1"), good_row(person, institution, no="BAD", **changes))
    report = import_settlements(data=data, file_name="s.csv", apply_good_rows=True)
    assert [(e.line, e.field) for e in report.errors] == [(3, field)]
    assert list(Bill.objects.values_list("settlement_no", flat=True)) == ["OK1"]


def test_nothing_is_applied_when_rows_are_rejected_unless_confirmed(person, institution):
    data = csv_bytes(good_row(person, institution, no="G1"), good_row(person, institution, no="G2", basic_paid="-1"))
    report = import_settlements(data=data, file_name="s.csv")
    assert (report.created, report.rejected, report.applied) == (1, 1, False)
    assert not Bill.objects.exists()
    report = import_settlements(data=data, file_name="s.csv", apply_good_rows=True)
    assert report.applied and Bill.objects.count() == 1


@pytest.mark.parametrize("value", ["2023-03-10", "2023/3/10", "20230310", "45000"])
def test_date_forms(person, institution, value):
    from datetime import date

    expected = date(2023, 3, 10) if value != "45000" else date(2023, 3, 15)
    row = platform_row(person, institution, enddate=value, begndate="2023-03-01", maf_pay="")
    report = import_settlements(data=platform_csv(row), file_name="s.csv")
    assert report.rejected == 0 and Bill.objects.get().discharge_date == expected


def test_excel_date_cells_and_numeric_cells(person, institution):
    from datetime import datetime

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(PLATFORM_COLUMNS))
    row = platform_row(person, institution, maf_pay="")
    cells = [row[c] for c in PLATFORM_COLUMNS]
    cells[PLATFORM_COLUMNS.index("begndate")] = datetime(2023, 3, 1)
    cells[PLATFORM_COLUMNS.index("enddate")] = 45000  # an Excel serial typed as a number
    cells[PLATFORM_COLUMNS.index("medfee_sumamt")] = 31000
    cells[PLATFORM_COLUMNS.index("med_type")] = 21
    sheet.append(cells)
    buf = io.BytesIO()
    book.save(buf)
    report = import_settlements(data=buf.getvalue(), file_name="s.xlsx")
    assert report.rejected == 0
    bill = Bill.objects.get()
    assert (str(bill.discharge_date), bill.total_cost, bill.visit_type) == ("2023-03-15", Decimal("31000.00"), "inpatient")


def test_undecodable_file_is_a_file_error():
    with pytest.raises(SettlementFileError):
        import_settlements(data=b"\xff\xfe\x00\x81\x30", file_name="s.csv")


class TestCommand:
    def test_gb18030_platform_file_through_the_command(self, person, institution, tmp_path, capsys):
        path = tmp_path / "setl.csv"
        rows = [platform_row(person, institution, setl_id="C1"),
                platform_row(person, institution, setl_id="C2", hifp_pay="-1")]
        path.write_bytes(platform_csv(*rows))
        with pytest.raises(SystemExit):
            call_command("import_settlements", str(path))
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "created 1, unchanged 0, rejected 1, differences 0"
        assert out[1].startswith("row 3: hifp_pay: ")
        assert not Bill.objects.exists()  # not confirmed: nothing applied
        with pytest.raises(SystemExit):
            call_command("import_settlements", str(path), "--apply-good-rows")
        assert Bill.objects.count() == 1 and SettlementRecord.objects.count() == 1

    def test_xlsx_platform_file_through_the_command(self, person, institution, tmp_path, capsys):
        path = tmp_path / "setl.xlsx"
        path.write_bytes(platform_xlsx(platform_row(person, institution)))
        call_command("import_settlements", str(path))
        assert capsys.readouterr().out.startswith("created 1, unchanged 0, rejected 0")
        call_command("import_settlements", str(path))
        assert "created 0, unchanged 1" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["gb18030", "xlsx"])
def test_platform_file_through_the_browser(client, caseworker, person, institution, kind, tmp_path):
    """Upload → preview (row errors with 行号 and the file's field) → confirm the good rows → done."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from claims.models import SettlementImport
    from claims.tasks import settlement_import_apply, settlement_import_preview

    rows = [platform_row(person, institution, setl_id="W1"), platform_row(person, institution, setl_id="W2", med_type="99")]
    name = "setl.xlsx" if kind == "xlsx" else "setl.csv"
    data = platform_xlsx(*rows) if kind == "xlsx" else platform_csv(*rows)
    client.force_login(caseworker)
    with override_settings(MEDIA_ROOT=str(tmp_path)):
        client.post(reverse("claims:imports"), {"file": SimpleUploadedFile(name, data)})
        job = SettlementImport.objects.get()
        settlement_import_preview(job.pk)
        job.refresh_from_db()
        assert (job.status, job.created, job.rejected) == ("previewed", 1, 1)
        assert [(e["line"], e["field"]) for e in job.errors] == [(3, "med_type")]
        errors = client.get(reverse("claims:import", args=[job.pk]) + "?format=errors").content.decode("utf-8-sig")
        assert errors.splitlines()[0] == "行号,字段,原因" and errors.splitlines()[1].startswith("3,med_type,")
        client.post(reverse("claims:import", args=[job.pk]), {"apply_good_rows": "1"})
        settlement_import_apply(job.pk)
        job.refresh_from_db()
    assert job.status == "done" and list(Bill.objects.values_list("settlement_no", flat=True)) == ["W1"]
    assert Bill.objects.get().platform_record.med_type == "21"


def test_template_downloads(client, caseworker):
    from django.urls import reverse

    client.force_login(caseworker)
    book = openpyxl.load_workbook(io.BytesIO(client.get(reverse("claims:import_template", args=["xlsx"])).content))
    assert [c.value for c in book.active[1]] == list(PLATFORM_COLUMNS)
    assert book.active["E2"].data_type == "s"  # certno stored as text
    text = client.get(reverse("claims:import_template", args=["csv"])).content.decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(PLATFORM_COLUMNS)
