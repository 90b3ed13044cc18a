"""Issue 20: the letter's two tables are laid out with fixed column widths, so WeasyPrint never runs
its automatic table layout (Pango measuring every cell's min- and max-content width on each render,
≈ 15 % of a warm render) — and no figure is cut, overflowed or lost on the way."""
from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from reports import pdf as letter_pdf
from reports.pdf import TEXT_WIDTH_MM, bill_table_columns, bill_table_headers, letter_context, render_letter_pdf, text_em

from .helpers import pdf_text

OFFICE = "北京市朝阳区医疗保障局"


def _render(content, kind="claim_approved"):
    with translation.override("zh-hans"):
        return render_letter_pdf(content, "京朝医救决〔2026〕17号", date(2026, 12, 8), OFFICE, "ABCDEFGHJK", kind=kind)


def _application_content(approved_content, n=3, amount="1200000.00"):
    """Nine columns (a person column, 计入金额), wide figures and a 不计入 reason: the tightest table."""
    bills = [{
        "settlement_no": f"S2026{i:012d}", "institution": "首都医科大学附属北京朝阳医院", "visit_type": "门诊慢性病/特殊疾病",
        "person_name": "欧阳娜娜", "admission_date": "2026-03-01", "discharge_date": "2026-03-10",
        "total_cost": amount, "burden": amount, "counted": i != 1, "counted_amount": "1200.00",
        "not_counted_reason": "" if i != 1 else "非政策范围内费用",
    } for i in range(n)]
    return dict(approved_content, bills=bills, amount=Decimal("2400.00"))


@pytest.fixture
def count_table_layouts(monkeypatch):
    import weasyprint.layout.table as table

    calls = {"auto": 0, "fixed": 0}
    auto, fixed = table.auto_table_layout, table.fixed_table_layout

    def counted_auto(*args, **kwargs):
        calls["auto"] += 1
        return auto(*args, **kwargs)

    def counted_fixed(*args, **kwargs):
        calls["fixed"] += 1
        return fixed(*args, **kwargs)

    monkeypatch.setattr(table, "auto_table_layout", counted_auto)
    monkeypatch.setattr(table, "fixed_table_layout", counted_fixed)
    return calls


@pytest.mark.parametrize("kind", ["claim_approved", "claim_rejected"])
def test_issue20_letter_tables_never_use_weasyprints_automatic_table_layout(approved_content, count_table_layouts, kind):
    content = approved_content if kind == "claim_approved" else dict(approved_content, decision="rejected", reason="非定点医药机构就医")
    _render(content, kind)
    assert count_table_layouts["auto"] == 0
    assert count_table_layouts["fixed"] == 2  # the bill table and the explanation


def test_issue20_letter_stylesheet_fixes_both_tables_and_lets_cells_wrap():
    from django.template.loader import render_to_string

    css = render_to_string("reports/letter.css")
    assert "table.bills, table.explain { table-layout: fixed; }" in css
    assert "overflow-wrap: anywhere" in css


def test_issue20_bill_columns_fit_the_text_area_and_every_figure_fits_its_column(approved_content):
    with translation.override("zh-hans"):
        for content in (approved_content, _application_content(approved_content)):
            context = letter_context(content, number="x", issued_on=date(2026, 12, 8), office=OFFICE, verify_code="ABCDEFGHJK")
            columns = context["bill_columns"]
            widths = {c["key"]: c["width"] for c in columns}
            assert [c["key"] for c in columns if c["width"] is None] == ["institution"]
            # the institution keeps at least two characters of 10.5 pt
            assert TEXT_WIDTH_MM - sum(w for w in widths.values() if w) >= 2 * letter_pdf.TABLE_EM_MM
            for bill in context["bills"]:
                for key in ("total_cost", "burden", "assistance", "counted_amount"):
                    if key in widths and bill[key]:
                        # a figure never wraps: its column holds it on one line
                        assert widths[key] - letter_pdf.TABLE_CELL_MM >= text_em(bill[key]) * letter_pdf.TABLE_EM_MM
                if content is approved_content:  # the tight table's dates wrap; a normal one's do not
                    assert widths["date"] - letter_pdf.TABLE_CELL_MM >= text_em("至" + bill["discharge_date"]) * letter_pdf.TABLE_EM_MM


def test_issue20_column_order_follows_the_template(approved_content):
    with translation.override("zh-hans"):
        headers = bill_table_headers()
        bills = letter_context(_application_content(approved_content), number="x", issued_on=date(2026, 12, 8), office=OFFICE,
                               verify_code="ABCDEFGHJK")["bills"]
        keys = [c["key"] for c in bill_table_columns(bills, {"person": True, "total_cost": True, "burden": True,
                                                             "assistance": False, "counted_amount": True}, headers)]
    assert keys == ["person", "settlement_no", "institution", "visit_type", "date", "total_cost", "burden", "counted_amount", "status"]


def test_issue20_fixed_tables_print_every_figure_of_the_rows_and_the_decision(approved_content):
    text = pdf_text(_render(approved_content))
    for figure in ("30,000.00", "20,000.00", "16,409.02", "S00000001", "2023-03-01", "至2023-03-10"):
        assert figure in text
    assert "¥16,409.02元" in text
    wide = _application_content(approved_content)
    text = pdf_text(_render(wide, "application_approved"))
    assert text.count("1,200,000.00") == 6  # two figures per bill, none cut
    assert text.count("1,200.00") >= 3
    assert "非政策范围内费用" in text
