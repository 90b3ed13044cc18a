"""Spreadsheet safety for every CSV/XLSX export (one rule, used by all apps)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

# A cell starting with one of these is read as a formula by spreadsheet programs (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: object) -> str:
    """Text for a cell: prefixed with ' when it would start a formula; None becomes ""."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def safe_cell(value: object) -> object:
    """Like :func:`formula_safe`, but numbers stay numbers and dates become ISO text."""
    if value is None:
        return ""
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return formula_safe(value)
