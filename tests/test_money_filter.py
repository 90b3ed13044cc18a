"""``|yuan``: one money format for every screen (builtin filter, organizations/templatetags/money.py)."""
from __future__ import annotations

from decimal import Decimal

from django.template import Context, Template

from organizations.templatetags.money import yuan


def test_yuan_two_decimals_half_up_with_thousands_separators():
    assert yuan(Decimal("118000")) == "118,000.00"
    assert yuan(Decimal("1234567.891")) == "1,234,567.89"
    assert yuan(Decimal("0.005")) == "0.01"  # half-up to the fen, not banker's rounding
    assert yuan(Decimal("-2.345")) == "-2.35"
    assert yuan(Decimal("0")) == "0.00"


def test_yuan_keeps_none_for_the_default_filters_and_leaves_text_alone():
    assert yuan(None) is None
    assert yuan("不设限额") == "不设限额"
    rendered = Template('{{ a|yuan|default_if_none:"—" }} {{ b|yuan|default:"—" }} {{ c|yuan }}').render(
        Context({"a": None, "b": Decimal("0.00"), "c": Decimal("42500")}))
    assert rendered == "— 0.00 42,500.00"  # a builtin: no {% load %}
