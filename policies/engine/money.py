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
    "to_chinese_capitals",
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


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_BIG_UNITS = ("", "万", "亿", "万亿")


def _four_digits(group: int) -> str:
    """0 < group < 10000 → e.g. 1234 → 壹仟贰佰叁拾肆, 1005 → 壹仟零伍."""
    out = []
    zero_pending = False
    for position in range(3, -1, -1):
        digit = group // (10**position) % 10
        if digit == 0:
            if out:
                zero_pending = True
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        out.append(_DIGITS[digit] + _SMALL_UNITS[position])
    return "".join(out)


def to_chinese_capitals(amount: Decimal) -> str:
    """Amount in Chinese financial capitals for decision letters (大写金额).

    ``12345.67`` → 壹万贰仟叁佰肆拾伍元陆角柒分; ``100`` → 壹佰元整; ``0.50`` → 伍角整.
    """
    value = round_money(to_decimal(amount))
    if value < 0:
        return "负" + to_chinese_capitals(-value)
    fen_total = int(value * 100)
    yuan, fen_part = divmod(fen_total, 100)
    jiao, fen = divmod(fen_part, 10)
    parts: list[str] = []
    if yuan:
        groups = []
        while yuan:
            groups.append(yuan % 10000)
            yuan //= 10000
        text = []
        zero_pending = False
        for index in range(len(groups) - 1, -1, -1):
            group = groups[index]
            if group == 0:
                zero_pending = bool(text)
                continue
            if text and (zero_pending or group < 1000):
                text.append("零")
            zero_pending = False
            text.append(_four_digits(group) + _BIG_UNITS[index])
        parts.append("".join(text) + "元")
    if jiao:
        parts.append(_DIGITS[jiao] + "角")
    elif fen and parts:
        parts.append("零")
    if fen:
        parts.append(_DIGITS[fen] + "分")
    if not parts:
        return "零元整"
    if not fen:
        parts.append("整")
    return "".join(parts)
