"""Exports (CSV and XLSX): ID numbers masked, CSV cells formula-escaped (= + - @)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from django.http import HttpResponse
from django.utils.translation import gettext as _

from .imports import escape_formula


def csv_response(rows: Iterable[list], filename: str) -> HttpResponse:
    """UTF-8 with BOM so Excel opens Chinese text correctly."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([escape_formula(c) for c in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_response(rows: Iterable[list], filename: str, *, sheet_title: str = "Sheet1") -> HttpResponse:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(title=sheet_title[:31])
    for row in rows:
        # Text cells starting with "=" would be formulas in Excel too: store them as text.
        sheet.append([escape_formula(c) if isinstance(c, str) else c for c in row])
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(
        out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def subsidy_roster_rows(rows, *, year: int) -> Iterable[list]:
    yield [_("序号"), _("姓名"), _("身份证号"), _("户籍区县"), _("资助类别"), _("资助方式"), _("资助比例"),
           _("个人缴费标准"), _("资助金额"), _("认定依据日期"), _("政策依据"), _("参保生效日期")]
    for i, r in enumerate(rows, start=1):
        yield [i, r.name, r.masked_id_number, r.district, r.category_name,
               _("全额资助") if r.kind == "full" else _("定额/比例资助"), f"{r.share * 100:.0f}%",
               r.contribution, r.amount, r.qualifying_date.isoformat(), r.clauses,
               r.covered_from.isoformat() if r.covered_from else ""]
