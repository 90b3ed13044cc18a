"""``{{ amount|yuan }}``: money as every screen shows it, 118,000.00 (two decimals, half-up, with
thousands separators). A builtin (settings TEMPLATES ``builtins``), so no ``{% load %}`` is needed.

None stays None, so ``|default:"—"`` and ``|default_if_none:"—"`` still apply; zero is "0.00",
not "—". Exports (CSV/XLSX) keep plain numbers: they do not go through templates.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

CENT = Decimal("0.01")


@register.filter(is_safe=True)
def yuan(value):
    if value is None or value == "":
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"
    except (InvalidOperation, ValueError, TypeError):
        return value
