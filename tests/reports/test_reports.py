"""The office's reports: figures, district scope, exports (formula-escaped) and printed PDFs."""
import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from beneficiaries.models import Certification
from organizations.models import InstitutionLevel
from reports import reporting
from reports.views import render_report_pdf
from tests.factories import BillFactory, CertificationFactory, HouseholdFactory, InstitutionFactory, PersonFactory

from .helpers import pdf_text

pytestmark = pytest.mark.django_db


def _bill(district, *, month, amount, cat="minimum_living", visit="inpatient", **kw):
    person = kw.pop("person", None) or PersonFactory(hukou_district=district)
    return BillFactory(
        person=person, district=district, admission_date=date(2024, month, 1), discharge_date=date(2024, month, 5),
        total_assistance=Decimal(amount), computation={"category": cat, "visit_class": visit}, **kw,
    )


@pytest.fixture
def fund_data(district, other_district):
    _bill(district, month=1, amount="1000.00")
    _bill(district, month=3, amount="2500.50")
    _bill(district, month=3, amount="499.50", cat="extreme_poverty", visit="outpatient_special")
    _bill(other_district, month=3, amount="9999.00")  # another district: never in 朝阳's report


def _get(client, user, slug, **params):
    client.force_login(user)
    return client.get(reverse("reports:report", args=[slug]), params)


def test_fund_expenditure_month_and_year_to_date(caseworker, fund_data):
    table = reporting.fund_expenditure(caseworker, {"year": 2024, "month": 3, "district": None})
    rows = {(r["category"], r["visit_class"]): r for r in table.rows}
    low = rows[("最低生活保障对象", "住院")]
    assert low["month_amount"] == Decimal("2500.50") and low["ytd_amount"] == Decimal("3500.50")
    assert low["month_bills"] == 1 and low["ytd_bills"] == 2
    assert table.totals["ytd_amount"] == Decimal("4000.00")  # 京海's 9999.00 not counted
    assert {r["district"] for r in table.rows} == {"朝阳区"}
    assert table.chart["labels"][-1] == "3月" and len(table.chart["labels"]) == 3


def test_fund_expenditure_city_level_sees_both_districts(auditor, fund_data):
    table = reporting.fund_expenditure(auditor, {"year": 2024, "month": None, "district": None})
    assert {r["district"] for r in table.rows} == {"朝阳区", "海淀区"}
    assert table.totals["ytd_amount"] == Decimal("13999.00")


def test_fund_report_page_scoped_to_district(client, other_caseworker, fund_data):
    resp = _get(client, other_caseworker, "fund", year=2024, month=3)
    assert resp.status_code == 200
    assert "9,999.00" in resp.content.decode()
    assert "2,500.50" not in resp.content.decode()


def test_fund_report_refuses_other_district_filter(client, caseworker, other_district, fund_data):
    resp = _get(client, caseworker, "fund", year=2024, district=other_district.pk)
    assert resp.status_code == 200
    assert resp.context["table"] is None and "district" in resp.context["form"].errors


def test_reports_csv_export_escapes_formulas(client, caseworker, district):
    inst = InstitutionFactory(name="=HYPERLINK(\"http://x\")", district=district, level=InstitutionLevel.COUNTY)
    person = PersonFactory(hukou_district=district)
    CertificationFactory(person=person)
    _bill(district, month=2, amount="100.00", person=person, institution=inst)
    resp = _get(client, caseworker, "out-of-pocket", date_from="2024-01-01", date_to="2024-12-31", export="csv")
    assert resp["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0][0] == "医疗机构"
    assert rows[1][0] == "'=HYPERLINK(\"http://x\")"


def test_reports_xlsx_export_never_writes_formulas(client, caseworker, district):
    inst = InstitutionFactory(name="@SUM(1+1)", district=district, level=InstitutionLevel.COUNTY)
    person = PersonFactory(hukou_district=district)
    CertificationFactory(person=person)
    _bill(district, month=2, amount="100.00", person=person, institution=inst)
    resp = _get(client, caseworker, "out-of-pocket", date_from="2024-01-01", date_to="2024-12-31", export="xlsx")
    ws = load_workbook(io.BytesIO(resp.content)).active
    # row 1 title, row 2 填报单位/统计期/计量单位, row 3 the column heads, then the rows
    assert ws["A1"].value == "定点医疗机构救助对象住院个人自付比例" and "计量单位" in ws["A2"].value
    assert ws["A4"].value == "'@SUM(1+1)" and ws["A4"].data_type == "s"
    assert ws["E4"].value == 30000  # money stays a number


def _wuxi(district):
    from organizations.models import Region

    district.region = Region.objects.get(code="320200")  # the Wuxi preset's region: its policy is in force
    district.save(update_fields=["region"])
    return district


def test_wuxi_7_out_of_pocket_flags_county_institutions_above_10_percent(caseworker, district):
    _wuxi(district)
    county = InstitutionFactory(name="县人民医院", district=district, level=InstitutionLevel.COUNTY)
    tertiary = InstitutionFactory(name="市三甲医院", district=district, level=InstitutionLevel.TERTIARY)
    good = InstitutionFactory(name="县中医院", district=district, level=InstitutionLevel.COUNTY)
    person = PersonFactory(hukou_district=district)
    CertificationFactory(person=person, valid_from=date(2024, 1, 1))
    # total 10000: basic 6000 + critical 1000 + assistance 1500 → self-pay 1500 = 15% (flag)
    _bill(district, month=2, amount="1500.00", person=person, institution=county, total_cost=Decimal("10000.00"),
          policy_scope_cost=Decimal("9000.00"), basic_paid=Decimal("6000.00"), critical_paid=Decimal("1000.00"))
    _bill(district, month=2, amount="1500.00", person=person, institution=tertiary, total_cost=Decimal("10000.00"),
          policy_scope_cost=Decimal("9000.00"), basic_paid=Decimal("6000.00"), critical_paid=Decimal("1000.00"))
    # 10000: 7000 + 1000 + 1100 → 900 = 9% (fine)
    _bill(district, month=2, amount="1100.00", person=person, institution=good, total_cost=Decimal("10000.00"),
          policy_scope_cost=Decimal("9000.00"), basic_paid=Decimal("7000.00"), critical_paid=Decimal("1000.00"))
    # a non-beneficiary's stay is not counted
    _bill(district, month=2, amount="0.00", institution=good, total_cost=Decimal("10000.00"), policy_scope_cost=Decimal("9000.00"),
          basic_paid=Decimal("1000.00"))
    table = reporting.out_of_pocket(caseworker, {"date_from": date(2024, 1, 1), "date_to": date(2024, 12, 31), "district": None})
    rows = {r["institution"]: r for r in table.rows}
    # POLICY.md §9: self-pay over 政策范围内住院总费用 (9,000), not over the total cost
    assert rows["县人民医院"]["ratio"] == Decimal("1500") / Decimal("9000") and rows["县人民医院"]["flag"] is True
    assert rows["市三甲医院"]["flag"] is False  # the 10% rule is for institutions in the county
    assert rows["县中医院"]["ratio"] == Decimal("0.10") and rows["县中医院"]["flag"] is False  # 900 / 9,000: at 10%, not above
    assert rows["县中医院"]["stays"] == 1
    assert table.rows[0]["institution"] == "县人民医院"  # flagged first


def test_beneficiaries_report_new_and_ended(caseworker, district, other_district):
    p1, p2, p3 = (PersonFactory(hukou_district=district) for _ in range(3))
    CertificationFactory(person=p1, valid_from=date(2023, 1, 1))  # in force throughout
    CertificationFactory(person=p2, valid_from=date(2024, 2, 1))  # new
    c3 = CertificationFactory(person=p3, valid_from=date(2023, 1, 1))
    Certification.objects.filter(pk=c3.pk).update(valid_until=date(2024, 3, 31), revocation_reason="收入超标", revoked_at=datetime(2024, 4, 1, tzinfo=UTC))
    CertificationFactory(person=PersonFactory(hukou_district=other_district), valid_from=date(2024, 2, 1))
    table = reporting.beneficiaries_by_category(caseworker, {"date_from": date(2024, 1, 1), "date_to": date(2024, 6, 30), "district": None})
    assert len(table.rows) == 1
    row = table.rows[0]
    assert row["category"] == "最低生活保障对象"
    assert (row["active"], row["new"], row["ended"], row["revoked"]) == (2, 1, 1, 1)


def test_premium_subsidy_totals_by_category(caseworker, monkeypatch):
    from beneficiaries import selectors as bsel

    def roster(*, user, region, year):
        row = dict(person_id=1, name="x", masked_id_number="x", district="朝阳区", category="minimum_living",
                   category_name="最低生活保障对象", kind="full", share=Decimal("1"), contribution=Decimal("380.00"),
                   amount=Decimal("380.00"), qualifying_date=date(2024, 1, 1), clause="四")
        return [bsel.SubsidyRow(**row), bsel.SubsidyRow(**{**row, "person_id": 2}),
                bsel.SubsidyRow(**{**row, "person_id": 3, "category": "marginal_family", "category_name": "低保边缘家庭成员",
                                   "kind": "fraction", "share": Decimal("0.5"), "amount": Decimal("190.00")})]

    monkeypatch.setattr(bsel, "premium_subsidy_roster", roster)
    table = reporting.premium_subsidy_totals(caseworker, {"year": 2024, "district": None})
    rows = {r["category"]: r for r in table.rows}
    assert rows["最低生活保障对象"]["people"] == 2 and rows["最低生活保障对象"]["amount"] == Decimal("760.00")
    assert rows["低保边缘家庭成员"]["share"] == "50%"
    assert table.totals["amount"] == Decimal("950.00")


def test_warnings_by_status(caseworker, district, other_district):
    from monitoring.models import EarlyWarning

    for status, n in (("open", 2), ("dismissed", 1)):
        for _ in range(n):
            EarlyWarning.objects.create(household=HouseholdFactory(district=district), year=2024, kind="illness_poverty",
                                        burden=Decimal("60000.00"), threshold=Decimal("40000.00"), status=status)
    EarlyWarning.objects.create(household=HouseholdFactory(district=other_district), year=2024, kind="illness_poverty",
                                burden=Decimal("60000.00"), threshold=Decimal("40000.00"))
    table = reporting.warnings_by_status(caseworker, {"year": 2024, "district": None})
    rows = {r["status"]: r for r in table.rows}
    assert rows["待处理"]["households"] == 2 and rows["已排除"]["households"] == 1
    assert table.totals["burden"] == Decimal("180000.00")


@pytest.mark.parametrize("slug", list(reporting.REPORTS))
def test_every_report_renders_html_and_pdf(client, caseworker, fund_data, slug):
    resp = _get(client, caseworker, slug)
    assert resp.status_code == 200
    resp = _get(client, caseworker, slug, export="pdf", **{k: v.isoformat() if hasattr(v, "isoformat") else v
                                                           for k, v in reporting.REPORTS[slug].initial().items()})
    assert resp["Content-Type"] == "application/pdf"
    assert str(reporting.REPORTS[slug].title) in pdf_text(resp.content)


def test_fund_report_pdf_has_figures(caseworker, fund_data):
    table = reporting.fund_expenditure(caseworker, {"year": 2024, "month": 3, "district": None})
    text = pdf_text(render_report_pdf(table))
    assert "医疗救助基金支出月报" in text and "2,500.50" in text and "4,000.00" in text and "朝阳区" in text


def test_reports_need_medsec_role(client, civil_certifier):
    client.force_login(civil_certifier)
    assert client.get(reverse("reports:report", args=["fund"])).status_code == 403
    assert client.get(reverse("reports:index")).status_code == 403


def test_reports_need_login(client):
    resp = client.get(reverse("reports:report", args=["fund"]))
    assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]


def test_unknown_report_404(client, caseworker):
    assert _get(client, caseworker, "nope").status_code == 404


def test_fund_report_opens_on_the_latest_month_with_spending_in_scope(client, caseworker, other_caseworker, fund_data, other_district):
    _bill(other_district, month=7, amount="10.00")  # 海淀's later spending does not move 朝阳's default
    client.force_login(caseworker)
    form = client.get(reverse("reports:report", args=["fund"])).context["form"]
    assert (form.initial["year"], form.initial["month"]) == (2024, 3)
    client.force_login(other_caseworker)
    form = client.get(reverse("reports:report", args=["fund"])).context["form"]
    assert (form.initial["year"], form.initial["month"]) == (2024, 7)


def test_out_of_pocket_outside_wuxi_neither_flags_nor_cites_wuxi(caseworker, district):
    """A Beijing office's self-pay report shows the ratio without applying Wuxi's 10% target."""
    county = InstitutionFactory(name="县人民医院", district=district, level=InstitutionLevel.COUNTY)
    person = PersonFactory(hukou_district=district)
    CertificationFactory(person=person, valid_from=date(2024, 1, 1))
    _bill(district, month=2, amount="1500.00", person=person, institution=county, total_cost=Decimal("10000.00"),
          policy_scope_cost=Decimal("9000.00"), basic_paid=Decimal("6000.00"), critical_paid=Decimal("1000.00"))
    table = reporting.out_of_pocket(caseworker, {"date_from": date(2024, 1, 1), "date_to": date(2024, 12, 31), "district": None})
    assert table.rows and not any(r["flag"] for r in table.rows)
    assert not any("无锡" in str(n) for n in table.notes)
