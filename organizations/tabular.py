"""The one way files are read for every import (rosters, settlements, ...): 表格文件读取.

- CSV in UTF-8 with or without BOM, or GB18030 (a superset of GBK/GB2312: what Excel and the
  national platform write on a Chinese Windows), detected per file, never guessed per row;
- XLSX read with openpyxl in read-only mode; a cell typed as a number keeps its digits (an ID
  number stored as a number loses nothing up to 15 digits; the template stores them as text);
- dates as 2023-01-31, 2023/1/31, 2023.1.31, 20230131, an Excel date cell or an Excel serial
  number (days since 1899-12-30), optionally followed by a time (``setl_time``);
- a header mapped through aliases (English, the platform's field names, Chinese headers).

A row is ``(line, {column: cell})`` with ``line`` the line of the file (header = 1). Every
reading problem of the file as a whole is :class:`TabularFileError` with a message for the user;
problems of one row are the importer's row errors.
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.utils.translation import gettext as _

EXCEL_EPOCH = date(1899, 12, 30)
CSV_EXTENSIONS = (".csv", ".txt")
XLSX_EXTENSIONS = (".xlsx", ".xlsm")


class TabularFileError(ValueError):
    """The file as a whole cannot be read (type, encoding, header)."""


def cell_text(value: object) -> str:
    """A cell as trimmed text: ints without '.0', dates in ISO form, None as ''."""
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def decode(raw: bytes) -> str:
    """UTF-8 (BOM or not), else GB18030; anything else is a file error."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise TabularFileError(_("无法识别文件编码，请另存为 UTF-8 或 GB18030 的 CSV。")) from None


def csv_lines(text: str) -> Iterator[tuple[int, list[object]]]:
    # A NUL byte in a cell is kept (the importer reports that row); the csv module itself
    # accepts NUL since Python 3.11.
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TabularFileError(_("第%(line)s行CSV格式错误：%(err)s") % {"line": start, "err": exc}) from None
        yield start, list(cells)


def xlsx_lines(fileobj) -> Iterator[tuple[int, list[object]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(fileobj, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is a file error
        raise TabularFileError(_("无法读取XLSX文件：%(err)s") % {"err": type(exc).__name__}) from None
    try:
        sheet = book.worksheets[0]
        for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, list(row)
    finally:
        book.close()


def file_lines(data: bytes | io.IOBase, file_name: str) -> Iterator[tuple[int, list[object]]]:
    """Numbered cell lists of a CSV or XLSX file (``data``: bytes or a binary file object)."""
    ext = os.path.splitext(file_name.lower())[1]
    if ext in XLSX_EXTENSIONS:
        return xlsx_lines(io.BytesIO(data) if isinstance(data, bytes | bytearray) else data)
    if ext not in (*CSV_EXTENSIONS, ""):
        raise TabularFileError(_("不支持的文件类型%(ext)s，请上传CSV或XLSX。") % {"ext": ext})
    raw = data if isinstance(data, bytes | bytearray) else data.read()
    text = raw if isinstance(raw, str) else decode(bytes(raw))
    return csv_lines(text)


def header_key(cell: object) -> str:
    return cell_text(cell).lstrip("\ufeff").strip()


def map_header(cells: list[object], aliases: Mapping[str, str], required: Iterable[str], *,
               expected: str) -> list[str | None]:
    """Column names for a header line; a missing required column is a file error naming it."""
    mapped: list[str | None] = []
    for cell in cells:
        key = header_key(cell)
        mapped.append(aliases.get(key) or aliases.get(key.lower()))
    missing = [c for c in required if c not in mapped]
    if missing:
        raise TabularFileError(_("表头缺少列：%(cols)s（应为 %(expected)s）") % {
            "cols": ", ".join(missing), "expected": expected})
    return mapped


def rows_of(numbered: Iterable[tuple[int, list[object]]], aliases: Mapping[str, str], required: Iterable[str], *,
            expected: str) -> Iterator[tuple[int, dict[str, object]]]:
    """Data rows as ``(line, {column: cell})``; blank lines skipped; the first non-blank line is the header."""
    header: list[str | None] | None = None
    required = tuple(required)
    for line, cells in numbered:
        if not any(cell_text(c) for c in cells):
            continue
        if header is None:
            header = map_header(cells, aliases, required, expected=expected)
            continue
        yield line, {name: (cells[i] if i < len(cells) else None) for i, name in enumerate(header) if name}
    if header is None:
        raise TabularFileError(_("文件为空或没有表头。"))


def parse_date(value: object) -> date | None:
    """2023-01-31, 2023/1/31, 2023.1.31, 20230131, an Excel date cell or serial; a time after a
    space (or 'T') is ignored. Empty → None; anything else raises ValueError."""
    if type(value) is str and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)  # the common case, in C
        except ValueError:
            pass
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer() and 10000101 <= value <= 99991231:  # 20230131 typed as a number
            value = str(int(value))
        else:
            return _excel_serial(float(value))
    text = cell_text(value)
    if not text:
        return None
    for cut in (" ", "T"):
        if cut in text:
            text = text.split(cut, 1)[0]
    for sep in ("-", "/", "."):
        if sep in text:
            parts = text.split(sep)
            if len(parts) == 3 and all(p.strip().isdigit() for p in parts):
                return date(int(parts[0]), int(parts[1]), int(parts[2].strip()))
            if sep == "." and len(parts) == 2 and all(p.isdigit() for p in parts):
                return _excel_serial(float(text))
            raise ValueError(text)
    if len(text) == 8 and text.isdigit():
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    if text.isdigit() and 1 <= len(text) <= 5:
        return _excel_serial(float(text))
    raise ValueError(text)


def _excel_serial(value: float) -> date:
    """Excel's day number (1 = 1900-01-01, with its 1900 leap-year bug: serials ≥ 61 count from 1899-12-30)."""
    if not 1 <= value < 2958466:  # 9999-12-31
        raise ValueError(str(value))
    return EXCEL_EPOCH + timedelta(days=int(value))


def xlsx_bytes(header: list[str], rows: Iterable[Iterable[Any]] = (), *, text_columns: Iterable[int] = ()) -> bytes:
    """A one-sheet workbook (templates, error files); ``text_columns`` are stored as text (ID numbers)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    text_columns = set(text_columns)
    for row in rows:
        sheet.append([str(v) if i in text_columns and v is not None else v for i, v in enumerate(row)])
    for index in text_columns:
        letter = openpyxl.utils.get_column_letter(index + 1)
        for cell in sheet[letter]:
            cell.number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
