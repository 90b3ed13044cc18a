"""Money helpers: ``Decimal`` yuan, two places, ``ROUND_HALF_UP`` at each computed line.

Never binary floats: :func:`to_decimal` refuses them, so a float can only reach the engine by
mistake and is then reported as bad data instead of being rounded silently.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
ONE = Decimal("1")
# Larger than any real bill (DecimalField(max_digits=14, decimal_places=2) holds < 10^12).
MAX_AMOUNT = Decimal("999999999999.99")

__all__ = [
    "CENT",
    "MAX_AMOUNT",
    "ONE",
    "ZERO",
    "money",
    "money_str",
    "percent_str",
    "round_money",
    "to_decimal",
]


def round_money(value: Decimal) -> Decimal:
    """Round one computed line to fen (分), half up."""
    return value.quantize(CENT, ROUND_HALF_UP)


def to_decimal(value: object) -> Decimal:
    """``Decimal`` from a Decimal, an int or a numeric string; ``ValueError`` for anything else.

    Floats and booleans are refused on purpose (money is never a binary float); NaN and the
    infinities are refused too.
    """
    if type(value) is Decimal:
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise ValueError(f"not a decimal number: {value!r} ({type(value).__name__})")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def money(value: object) -> Decimal:
    """A money amount from ``value`` (see :func:`to_decimal`), rounded to fen."""
    return round_money(to_decimal(value))


def money_str(value: Decimal) -> str:
    """``"17000.00"``: the JSON form of an amount."""
    return str(value.quantize(CENT, ROUND_HALF_UP))


def percent_str(rate: Decimal) -> str:
    """``Decimal("0.85")`` → ``"85%"``, ``Decimal("0.125")`` → ``"12.5%"``."""
    text = format((rate * 100).normalize(), "f")
    return f"{text}%"
