"""Reports in the shapes a district office sends upward (issue 17): 填报单位, 统计期, 计量单位,
one 合计 row equal to its rows and to the money definition, sign-off footer, charts; each on
screen, as XLSX and as PDF (read back with pdftotext)."""
import io
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from claims import money
from claims.models import Bill
from organizations.models import InstitutionLevel
from reports import reporting
from reports.views import render_report_pdf
from tests.factories import BillFactory, CertificationFactory, InstitutionFactory, PersonFactory

pytestmark = pytest.mark.django_db


def _text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def _bill(district, *, month, amount, cat="minimum_living", visit="inpatient", person=None, **kw):
    person = person or PersonFactory(hukou_district=district)
    return BillFactory(person=person, district=district, admission_date=date(2024, month, 1), discharge_date=date(2024, month, 5),
                       total_assistance=Decimal(amount), computation={"category": cat, "visit_class": visit}, **kw)


@pytest.fixture
def data(district, other_district, approved_application):
    same = PersonFactory(hukou_district=district)
    _bill(district, month=3, amount="2500.50", person=same, diagnosis_code="C34.1", diagnosis_name="肺恶性肿瘤",
          institution=InstitutionFactory(district=district, level=InstitutionLevel.TERTIARY))
    _bill(district, month=3, amount="1000.00", person=same, diagnosis_code="C34.9", diagnosis_name="肺恶性肿瘤",
          institution=InstitutionFactory(district=district, level=InstitutionLevel.PRIMARY))
    _bill(district, month=1, amount="499.50", cat="extreme_poverty", visit="outpatient_special")
    _bill(other_district, month=3, amount="9999.00")  # another district: never in 朝阳's report
    approved_application.decided_at = datetime(2024, 3, 20, 2, tzinfo=UTC)
    approved_application.save(update_fields=["decided_at"])
    CertificationFactory(person=same, valid_from=date(2024, 3, 2))
    return {"same": same, "application": approved_application}


PARAMS = {"year": 2024, "month": 3, "date_from": "2024-01-01", "date_to": "2024-12-31"}


def _params(slug: str) -> dict:
    form = reporting.REPORTS[slug].form_class
    keys = set(form.base_fields)
    return {k: v for k, v in PARAMS.items() if k in keys}


@pytest.mark.parametrize("slug", list(reporting.REPORTS))
def test_every_report_pdf_prints_one_total_equal_to_its_rows(client, caseworker, data, slug):
    client.force_login(caseworker)
    url = reverse("reports:report", args=[slug])
    table = client.get(url, _params(slug)).context["table"]
    text = _text(client.get(url, {**_params(slug), "export": "pdf"}).content)
    if not table.rows:
        assert "合计" not in text
        return
    assert text.count("合计") == 1
    for column in table.columns:
        if column.kind in ("money", "int") and column.key in table.totals and column.key not in (
                "month_persons", "ytd_persons", "persons", "month_avg", "ytd_avg", "avg"):
            values = [r.get(column.key) or 0 for r in table.rows]
            assert table.totals[column.key] == sum(values), column.key
    for kind_label in ("填报单位", "统计期", "计量单位", "单位负责人", "审核人", "填表人", "报出日期"):
        assert kind_label in text


def test_report_pdf_total_once_across_pages():
    """The 合计 row is printed once, after the last row (a repeated table footer printed it under
    every page, under rows that did not add up to it)."""
    rows = [{"name": f"行{i}", "amount": Decimal("1000.10")} for i in range(120)]
    table = reporting.ReportTable(title="测试表", columns=[reporting.Column("name", "项目"), reporting.Column("amount", "金额", "money")],
                                  rows=rows, totals={"name": "合计", "amount": Decimal("120012.00")})
    pdf = render_report_pdf(table)
    text = _text(pdf)
    assert text.count("\f") >= 3  # several pages
    assert text.count("合计") == 1 and text.count("120,012.00") == 1
    last_page = text.split("\f")[-2]
    assert "120,012.00" in last_page and "行119" in last_page


def test_fund_report_totals_equal_the_money_definition(caseworker, data, district):
    table = reporting.fund_expenditure(caseworker, {"year": 2024, "month": 3, "district": None})
    bills = money.bills_for_report(Bill.objects.filter(district=district, discharge_date__year=2024))
    granted = sum((money.bill_granted(b) for b in bills), Decimal("0.00"))
    relief = money.relief_granted(money.applications_granted(data["application"].__class__.objects.filter(district=district)))
    assert table.totals["ytd_amount"] == granted + relief == Decimal("36000.00")
    tier = reporting.three_tier(caseworker, {"date_from": date(2024, 1, 1), "date_to": date(2024, 12, 31), "district": None})
    assert tier.totals["assistance"] == granted  # relief on application is not per bill


def test_fund_report_counts_persons_and_visits_and_relief_rows(caseworker, data):
    table = reporting.fund_expenditure(caseworker, {"year": 2024, "month": 3, "district": None})
    low = next(r for r in table.rows if r["category"] == "最低生活保障对象" and r["visit_class"] == "住院")
    assert (low["month_bills"], low["month_persons"], low["month_amount"]) == (2, 1, Decimal("3500.50"))
    assert low["month_avg"] == Decimal("1750.25")
    relief = [r for r in table.rows if r["visit_class"] == "依申请救助"]
    assert len(relief) == 1 and relief[0]["ytd_amount"] == Decimal("32000.00") and relief[0]["ytd_persons"] == 1
    assert table.rows[-1] is relief[0]  # relief on application after the per-bill rows
    # 合计 人数 counts each person once (the person with two bills once): 3 people, 4 visits
    assert table.totals["ytd_persons"] == 3 and table.totals["ytd_bills"] == 4


def test_report_head_and_signoff_on_screen_and_xlsx(client, caseworker, data):
    client.force_login(caseworker)
    url = reverse("reports:report", args=["fund"])
    html = client.get(url, PARAMS | {"district": ""}).content.decode()
    for label in ("填报单位", "统计期", "计量单位", "单位负责人", "审核人", "填表人", "报出日期", "2024年3月"):
        assert label in html
    wb = load_workbook(io.BytesIO(client.get(url, {"year": 2024, "month": 3, "export": "xlsx"}).content))
    cells = [str(c.value) for row in wb.active.iter_rows() for c in row if c.value is not None]
    assert cells[0] == "医疗救助基金支出月报"
    assert any("填报单位" in c and "计量单位：元" in c for c in cells)
    assert sum(1 for c in cells if c == "合计") == 1
    assert any(c.startswith("填表人") for c in cells) and any(c.startswith("报出日期") for c in cells)


def test_report_in_ten_thousand_yuan(client, caseworker, data):
    client.force_login(caseworker)
    resp = client.get(reverse("reports:report", args=["fund"]), {"year": 2024, "month": 3, "unit": "wan"})
    table = resp.context["table"]
    assert table.unit == "万元" and table.totals["ytd_amount"] == Decimal("3.60")
    assert "计量单位</b>：万元" in resp.content.decode()


def test_three_tier_composition_adds_up_by_level(caseworker, data):
    table = reporting.three_tier(caseworker, {"date_from": date(2024, 1, 1), "date_to": date(2024, 12, 31), "district": None, "by": "level"})
    groups = [r["group"] for r in table.rows]
    assert groups.index("省级（三级）") < groups.index("乡级（一级/基层）")
    for r in [*table.rows, table.totals]:
        assert r["total"] == r["basic"] + r["critical"] + r["assistance"] + r["other"] + r["self_pay"]
    assert table.chart["stacked"] and len(table.chart["datasets"]) == 5


def test_by_disease_groups_icd10_categories(caseworker, data):
    table = reporting.by_disease(caseworker, {"date_from": date(2024, 1, 1), "date_to": date(2024, 12, 31), "district": None})
    c34 = next(r for r in table.rows if r["code"] == "C34")
    assert (c34["stays"], c34["persons"], c34["assistance"], c34["name"]) == (2, 1, Decimal("3500.50"), "肺恶性肿瘤")
    assert any(r["code"] == "（未填写）" for r in table.rows)


def test_beneficiary_changes_per_agency_and_month(caseworker, data, district):
    person = PersonFactory(hukou_district=district)
    CertificationFactory(person=person, valid_from=date(2024, 1, 10), valid_until=date(2024, 3, 31))
    table = reporting.beneficiary_changes(caseworker, {"year": 2024, "district": None})
    by_month = {}
    for r in table.rows:
        by_month.setdefault(r["month"], [0, 0])
        by_month[r["month"]][0] += r["new"]
        by_month[r["month"]][1] += r["ended"]
    assert by_month["1月"][0] >= 1 and by_month["3月"][1] >= 1
    assert table.totals["net"] == table.totals["new"] - table.totals["ended"]


def test_subsidy_rate_and_uninsured_list(caseworker, district, monkeypatch):
    from beneficiaries import selectors as bsel
    from beneficiaries.models import InsuranceType
    from beneficiaries.selectors import SubsidyRow

    insured = PersonFactory(hukou_district=district)
    uninsured = PersonFactory(hukou_district=district, insurance_type=InsuranceType.NONE)

    def roster(*, user, region, year):
        return [SubsidyRow(person_id=p.pk, name=p.name, masked_id_number=p.masked_id_number, district=district.name,
                           category="minimum_living", category_name="最低生活保障对象", kind="full", share=Decimal("1"),
                           contribution=Decimal("380.00"), amount=Decimal("380.00"), qualifying_date=date(2024, 1, 1), clause="四")
                for p in (insured, uninsured)]

    monkeypatch.setattr(bsel, "premium_subsidy_roster", roster)
    table = reporting.premium_subsidy_totals(caseworker, {"year": 2024, "district": None})
    assert table.totals["people"] == 2 and table.totals["insured"] == 1 and table.totals["rate"] == Decimal("0.5000")
    listed = reporting.uninsured_beneficiaries(caseworker, {"year": 2024, "district": None})
    assert [r["name"] for r in listed.rows] == [uninsured.name]
    assert listed.rows[0]["masked_id"] == uninsured.masked_id_number and uninsured.id_number not in str(listed.rows)


@pytest.mark.parametrize("header", ["diagnosis_code", "dise_codg", "病种编码", "主要诊断编码"])
def test_settlement_import_reads_the_optional_icd10_column(header):
    from claims.imports import read_rows

    csv_text = ("setl_id,fixmedins_code,certno,med_type,begndate,enddate,medfee_sumamt,inscp_scp_amt," + header + "\n"
                "S1,H001,110105199001011234,21,2024-03-01,2024-03-05,1000.00,900.00,C34.1\n")
    [(_line, row)] = read_rows(csv_text.encode(), "x.csv")
    assert row["diagnosis_code"] == "C34.1"
