"""One rule for spreadsheet safety across every export (issue 4: CSV exports escape = + - @)."""
from datetime import date
from decimal import Decimal

import pytest

from organizations.exports import formula_safe, safe_cell


@pytest.mark.parametrize("text", ["=SUM(A1)", "+1", "-2+3", "@cmd", "\tx", "\rx"])
def test_cells_that_would_start_a_formula_are_quoted(text):
    assert formula_safe(text) == "'" + text


@pytest.mark.parametrize("text,expected", [("张三", "张三"), ("110105********1234", "110105********1234"), (None, ""), ("", "")])
def test_plain_cells_are_unchanged(text, expected):
    assert formula_safe(text) == expected


def test_numbers_stay_numbers_and_dates_become_iso_text():
    assert safe_cell(Decimal("-12.50")) == Decimal("-12.50")
    assert safe_cell(date(2024, 3, 1)) == "2024-03-01"
    assert safe_cell("-12") == "'-12"
