"""Settlement import (一站式结算数据导入): CSV (UTF-8, header) or XLSX with EXACTLY these columns.

One code path for the web (upload → preview → confirm, as a Celery task with progress) and
``manage.py import_settlements``. Every row is validated (POLICY.md §1 amounts, a registered
person, a known institution, dates, booleans) and either created, found unchanged (same
institution and settlement number with the same content: idempotent), or rejected with
``row N: field: message`` (N = line in the file, header = 1). A row whose settlement number
exists with DIFFERENT content is rejected, never silently overwritten.

After the bills are written the touched person-years are recomputed (claims.services), and the
engine's figure is compared with ``assistance_paid``: differences become open payment
adjustments (the "differences to review" screen). A dry run does all of that inside a
transaction that is rolled back, so its counts (differences included) are the real ones.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaries import idnumber
from beneficiaries.models import Person
from organizations.models import Institution

from . import money
from .models import Bill, BillSource, BillStatus, PaymentAdjustment, VisitType

COLUMNS = (
    "settlement_no", "institution_code", "id_number", "visit_type", "admission_date", "discharge_date",
    "diagnosis_code", "total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid",
    "assistance_paid", "referral_compliant", "in_province",
)
MONEY_COLUMNS = ("total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid")
TRUE = {"1", "true", "t", "yes", "y", "是", "√"}
FALSE = {"0", "false", "f", "no", "n", "否", ""}
VISIT_LABELS = {str(label): value for value, label in VisitType.choices}
COMPARED = ("visit_type", "admission_date", "discharge_date", "diagnosis_code", *MONEY_COLUMNS,
            "hospital_assistance_paid", "referral_compliant", "in_province")
CENT = Decimal("0.01")


class SettlementFileError(ValueError):
    """The file as a whole cannot be read (format, header)."""


@dataclass
class RowError:
    line: int
    field: str
    message: str

    def as_text(self) -> str:
        return f"row {self.line}: {self.field}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass
class Difference:
    line: int
    settlement_no: str
    bill_id: int
    computed: Decimal
    paid: Decimal

    def as_text(self) -> str:
        return f"difference row {self.line}: {self.settlement_no}: engine {self.computed}, paid {self.paid}"


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    dry_run: bool = False

    def counts_line(self) -> str:
        return (f"created {self.created}, unchanged {self.unchanged}, rejected {self.rejected}, "
                f"differences {len(self.differences)}")


# ------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------


def _csv_lines(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SettlementFileError(_("CSV 文件须为 UTF-8 编码。")) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    for cells in reader:
        yield reader.line_num, cells


def _xlsx_lines(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any unreadable workbook is the same error for the user
        raise SettlementFileError(_("无法读取 XLSX 文件。")) from None
    sheet = book.worksheets[0]
    for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield number, list(cells)
    book.close()


def read_rows(data: bytes, file_name: str) -> list[tuple[int, dict[str, Any]]]:
    """``[(line, {column: cell})]`` for the data rows; the header must be exactly :data:`COLUMNS`."""
    ext = Path(file_name).suffix.lower()
    if ext in (".xlsx", ".xlsm"):
        lines = _xlsx_lines(data)
    elif ext in (".csv", ".txt", ""):
        lines = _csv_lines(data)
    else:
        raise SettlementFileError(_("仅支持 CSV 或 XLSX 文件。"))
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, Any]]] = []
    for line, cells in lines:
        if header is None:
            header = [str(c or "").strip() for c in cells]
            while header and not header[-1]:
                header.pop()
            if tuple(header) != COLUMNS:
                raise SettlementFileError(_("表头应为：%(cols)s") % {"cols": ",".join(COLUMNS)})
            continue
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        padded = list(cells) + [None] * (len(COLUMNS) - len(cells))
        rows.append((line, dict(zip(COLUMNS, padded[: len(COLUMNS)], strict=True))))
    if header is None:
        raise SettlementFileError(_("文件为空。"))
    return rows


# ------------------------------------------------------------------------------------------
# Parsing one row
# ------------------------------------------------------------------------------------------


class _RowInvalid(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        self.message = message


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _money(row: dict[str, Any], name: str, *, required: bool = True) -> Decimal | None:
    raw = row.get(name)
    text = _text(raw)
    if text == "":
        if required:
            raise _RowInvalid(name, _("必填"))
        return None
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise _RowInvalid(name, _("不是有效金额：%(v)s") % {"v": text}) from None
    if not value.is_finite():
        raise _RowInvalid(name, _("不是有效金额：%(v)s") % {"v": text})
    if value != value.quantize(CENT):
        raise _RowInvalid(name, _("金额最多两位小数：%(v)s") % {"v": text})
    if value < 0:
        raise _RowInvalid(name, _("金额不能为负数"))
    return value.quantize(CENT)


def _day(row: dict[str, Any], name: str) -> date:
    raw = row.get(name)
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = _text(raw)
    if not text:
        raise _RowInvalid(name, _("必填"))
    try:
        return date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise _RowInvalid(name, _("日期格式应为 YYYY-MM-DD：%(v)s") % {"v": text}) from None


def _flag(row: dict[str, Any], name: str) -> bool:
    raw = row.get(name)
    if isinstance(raw, bool):
        return raw
    text = _text(raw).lower()
    if text in TRUE:
        return True
    if text in FALSE and text:
        return False
    raise _RowInvalid(name, _("应为 1/0、是/否 或 true/false：%(v)s") % {"v": text})


def _parse(row: dict[str, Any], institutions: dict[str, Institution], persons: dict[str, Person]) -> dict[str, Any]:
    settlement_no = _text(row.get("settlement_no"))
    if not settlement_no:
        raise _RowInvalid("settlement_no", _("必填"))
    if len(settlement_no) > 50:
        raise _RowInvalid("settlement_no", _("最多50个字符"))
    code = _text(row.get("institution_code"))
    institution = institutions.get(code)
    if institution is None:
        raise _RowInvalid("institution_code", _("未知的定点医药机构编码：%(v)s") % {"v": code})
    raw_id = _text(row.get("id_number"))
    try:
        number = idnumber.parse(raw_id).number
    except idnumber.IdNumberError as exc:
        raise _RowInvalid("id_number", str(exc.message)) from None
    person = persons.get(number)
    if person is None:
        raise _RowInvalid("id_number", _("该身份证号未登记为救助对象（%(v)s）") % {"v": idnumber.mask(number)})
    visit_raw = _text(row.get("visit_type"))
    visit = visit_raw if visit_raw in VisitType.values else VISIT_LABELS.get(visit_raw)
    if visit is None:
        raise _RowInvalid("visit_type", _("应为 %(v)s 之一") % {"v": ", ".join(VisitType.values)})
    data: dict[str, Any] = {
        "settlement_no": settlement_no,
        "visit_type": visit,
        "admission_date": _day(row, "admission_date"),
        "discharge_date": _day(row, "discharge_date"),
        "diagnosis_code": _text(row.get("diagnosis_code"))[:20],
    }
    for name in MONEY_COLUMNS:
        data[name] = _money(row, name, required=name in ("total_cost", "policy_scope_cost"))
        if data[name] is None:
            data[name] = Decimal("0.00")
    data["hospital_assistance_paid"] = _money(row, "assistance_paid", required=False)
    data["referral_compliant"] = _flag(row, "referral_compliant") if _text(row.get("referral_compliant")) else True
    data["in_province"] = _flag(row, "in_province") if _text(row.get("in_province")) else institution.in_province
    from .services import bill_validate

    try:
        bill_validate(data)
    except ValidationError as exc:
        name, errors = next(iter(exc.error_dict.items()))
        column = "assistance_paid" if name == "hospital_assistance_paid" else name
        raise _RowInvalid(column, errors[0].messages[0]) from None
    data["_person"] = person
    data["_institution"] = institution
    return data


# ------------------------------------------------------------------------------------------
# Import
# ------------------------------------------------------------------------------------------


def import_settlements(*, data: bytes, file_name: str, by=None, dry_run: bool = False,
                       district_ids: set[int] | None = None,
                       progress: Callable[[int, int], None] | None = None, chunk: int = 2000) -> ImportReport:
    """Validate and (unless ``dry_run``) apply a settlement file; see the module docstring.

    ``district_ids``: the uploader's districts (None = no restriction); a person registered
    elsewhere is a rejected row. ``progress(done, total)`` is called after every chunk.
    """
    rows = read_rows(data, file_name)
    report = ImportReport(total=len(rows), dry_run=dry_run)
    institutions = {i.code: i for i in Institution.objects.all()}
    numbers = set()
    for _line, row in rows:
        try:
            numbers.add(idnumber.normalise(_text(row.get("id_number"))))
        except Exception:  # noqa: BLE001, S112 - reported per row in _parse
            continue
    persons: dict[str, Person] = {}
    number_list = sorted(numbers)
    for start in range(0, len(number_list), 5000):
        for p in Person.objects.filter(id_number__in=number_list[start:start + 5000]):
            persons[p.id_number] = p

    touched: set[tuple[int, int]] = set()
    line_of: dict[int, int] = {}  # bill id -> file line (for the differences list)
    with transaction.atomic():
        seen: set[tuple[int, str]] = set()
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            parsed: list[tuple[int, dict[str, Any]]] = []
            for line, row in part:
                try:
                    item = _parse(row, institutions, persons)
                    if district_ids is not None and item["_person"].hukou_district_id not in district_ids:
                        raise _RowInvalid("id_number", _("该人员不属于本区县经办范围"))
                    key = (item["_institution"].pk, item["settlement_no"])
                    if key in seen:
                        raise _RowInvalid("settlement_no", _("文件中重复的结算单号"))
                    seen.add(key)
                    parsed.append((line, item))
                except _RowInvalid as exc:
                    report.errors.append(RowError(line, exc.field, exc.message))
            existing: dict[tuple[int, str], Bill] = {}
            by_inst: dict[int, list[str]] = {}
            for _line, item in parsed:
                by_inst.setdefault(item["_institution"].pk, []).append(item["settlement_no"])
            for inst_id, nos in by_inst.items():
                for bill in Bill.objects.filter(institution_id=inst_id, settlement_no__in=nos):
                    existing[(inst_id, bill.settlement_no)] = bill
            new: list[Bill] = []
            new_lines: list[int] = []
            for line, item in parsed:
                person, institution = item.pop("_person"), item.pop("_institution")
                found = existing.get((institution.pk, item["settlement_no"]))
                if found is not None:
                    if found.person_id == person.pk and all(getattr(found, k) == item[k] for k in COMPARED):
                        report.unchanged += 1
                        line_of[found.pk] = line
                        if found.hospital_assistance_paid is not None:
                            touched.add((person.pk, found.discharge_date.year))
                    else:
                        report.errors.append(RowError(line, "settlement_no", _("该机构的结算单号已导入且内容不同，请核实后手工更正")))
                    continue
                new.append(Bill(
                    person=person, district_id=person.hukou_district_id, institution=institution,
                    source=BillSource.ONE_STOP, created_by=by if getattr(by, "pk", None) else None,
                    status=BillStatus.HOSPITAL_PAID if item["hospital_assistance_paid"] is not None else BillStatus.RECORDED,
                    **item,
                ))
                new_lines.append(line)
            created = Bill.objects.bulk_create(new, batch_size=1000)
            for bill, line in zip(created, new_lines, strict=True):
                touched.add((bill.person_id, bill.discharge_date.year))
                if bill.pk is not None:
                    line_of[bill.pk] = line
            report.created += len(created)
            if progress is not None:
                progress(min(start + chunk, len(rows)), len(rows) * 2)
        report.rejected = len(report.errors)
        report.errors.sort(key=lambda e: e.line)

        from .services import PolicyCache, recompute_person_years

        cache = PolicyCache()
        pairs = sorted(touched)
        step = 500
        for index in range(0, len(pairs), step):
            recompute_person_years(person_years=pairs[index:index + step], cache=cache)
            if progress is not None:
                progress(len(rows) + int(len(rows) * min(index + step, len(pairs)) / len(pairs)), len(rows) * 2)
        if line_of:
            ids = list(line_of)
            for start in range(0, len(ids), 5000):
                for bill_id, no, computed, paid in (
                    money.bills_recomputed(Bill.objects.filter(pk__in=ids[start:start + 5000],
                                                               hospital_assistance_paid__isnull=False))
                    .values_list("pk", "settlement_no", "total_assistance", "hospital_assistance_paid")
                ):
                    if computed != paid:
                        report.differences.append(Difference(line_of[bill_id], no, bill_id, computed, paid))
            report.differences.sort(key=lambda d: d.line)
        if dry_run:
            transaction.set_rollback(True)
    if progress is not None:
        progress(len(rows) * 2, len(rows) * 2)
    return report


def open_differences_count(bill_ids: list[int]) -> int:
    return PaymentAdjustment.objects.filter(bill_id__in=bill_ids, status=PaymentAdjustment.Status.OPEN).count()


def stamp() -> datetime:
    return timezone.now()
