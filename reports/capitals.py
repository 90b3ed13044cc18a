"""Amounts in Chinese capitals (中文大写金额) for decision letters.

Follows the People's Bank rules for settlement documents (《支付结算办法》附一 “正确填写票据和结算
凭证的基本规定”) in one canonical form:

- only the characters 零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整;
- the integer part is read in sections of four digits (个/万/亿, up to 9999亿); zeros at the end of a
  section are not written, any other run of zeros is written as a single 零 (1005 → 壹仟零伍,
  107000 → 壹拾万柒仟, 1000001 → 壹佰万零壹, 100010000 → 壹亿零壹万);
- tens are always written with their digit (10 → 壹拾, as the rules require on bills);
- 零 after 元 when the units digit is 0 and 角 or 分 follow (1680.32 → …捌拾元零叁角贰分);
- 零 before 分 when 角 is 0 (16409.02 → …零玖元零贰分); only one 零 where both rules meet;
- 整 after 元 or 角, never after 分;
- an amount below one yuan has no 元 (0.29 → 贰角玖分, 0.05 → 伍分: nothing precedes, so no 零);
  zero is 零元整.

The caller writes 人民币 in front (the letter template does). Input is ``Decimal`` (or ``int``),
never ``float``: a binary float cannot say 0.29 exactly, so it is refused rather than rounded.
"""
from __future__ import annotations

from decimal import Decimal

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_IN_SECTION = ("", "拾", "佰", "仟")  # units inside a four-digit section, low to high
_SECTIONS = ("", "万", "亿")  # section units, low to high
# DecimalField(max_digits=14, decimal_places=2) holds at most 12 integer digits: up to 9999亿
MAX_AMOUNT = Decimal("999999999999.99")


class CapitalsError(ValueError):
    """The amount cannot be written in capitals (negative, not a whole number of fen, too large)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def _section(value: int) -> str:
    """0 < value < 10000, read without the section unit; leading zeros are the caller's business."""
    digits = f"{value:04d}"  # thousands first
    out: list[str] = []
    pending_zero = False
    for i, ch in enumerate(digits):
        d = int(ch)
        unit = _IN_SECTION[3 - i]
        if d == 0:
            if out:  # a zero after a written digit: remember it, write it only if a digit follows
                pending_zero = True
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(DIGITS[d] + unit)
    return "".join(out)


def _integer(value: int) -> str:
    """The yuan part (value ≥ 1), e.g. 107000 → 壹拾万柒仟."""
    sections: list[int] = []
    while value:
        sections.append(value % 10000)
        value //= 10000
    if len(sections) > len(_SECTIONS):
        raise CapitalsError("amount too large for capitals", code="too_large")
    out: list[str] = []
    zero_gap = False  # zeros seen since the last written digit (section tails do not count)
    for idx in range(len(sections) - 1, -1, -1):
        sec = sections[idx]
        if sec == 0:
            if out:
                zero_gap = True
            continue
        if out and (zero_gap or sec < 1000):
            # zeros between the previous section's last digit and this section's first
            # digit, other than the previous section's own trailing zeros, are one 零
            out.append("零")
        zero_gap = False
        out.append(_section(sec) + _SECTIONS[idx])
    return "".join(out)


def amount_in_capitals(amount: Decimal | int) -> str:
    """中文大写金额 of ``amount`` yuan, without the 人民币 prefix.

    >>> amount_in_capitals(Decimal("1680.32"))
    '壹仟陆佰捌拾元零叁角贰分'
    """
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        # float included on purpose: 0.1 + 0.2 must never reach a letter as 叁角 by luck
        raise TypeError(f"amount_in_capitals needs Decimal, not {type(amount).__name__}")
    amount = Decimal(amount)
    if not amount.is_finite():
        raise CapitalsError("amount is not a finite number", code="not_finite")
    if amount < 0:
        raise CapitalsError("a negative amount has no capitals", code="negative")
    if amount > MAX_AMOUNT:
        raise CapitalsError("amount too large for capitals", code="too_large")
    fen_total = amount * 100
    if fen_total != fen_total.to_integral_value():
        raise CapitalsError("amount is not a whole number of fen", code="sub_fen")
    fen_total = int(fen_total)
    yuan, rest = divmod(fen_total, 100)
    jiao, fen = divmod(rest, 10)

    if fen_total == 0:
        return "零元整"
    out = ""
    if yuan:
        out = _integer(yuan) + "元"
    if jiao == 0 and fen == 0:
        return out + "整"
    if yuan and (yuan % 10 == 0 or jiao == 0):
        # units digit 0 with 角/分 following, or 角 is 0 before 分: one 零 either way
        out += "零"
    if jiao:
        out += DIGITS[jiao] + "角"
    if fen:
        out += DIGITS[fen] + "分"
    else:
        out += "整"
    return out


_UNIT_VALUE = {"拾": 10, "佰": 100, "仟": 1000}
_BIG_VALUE = {"万": 10**4, "亿": 10**8}


def parse_capitals(text: str) -> Decimal:
    """Inverse of :func:`amount_in_capitals` (also accepts a leading 人民币). For tests and checks."""
    text = text.removeprefix("人民币")
    if not text or any(ch not in "零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整" for ch in text):
        raise CapitalsError("not an amount in capitals", code="invalid")
    text = text.removesuffix("整")
    yuan_part, _, frac = text.rpartition("元") if "元" in text else ("", "", text)
    total = 0
    section = 0  # value below the current 万
    digit = 0
    high = 0  # accumulated 亿 part
    for ch in yuan_part:
        if ch in DIGITS:
            digit = DIGITS.index(ch)
        elif ch in _UNIT_VALUE:
            section += digit * _UNIT_VALUE[ch]
            digit = 0
        elif ch == "万":
            total += (section + digit) * 10**4
            section = digit = 0
        elif ch == "亿":
            high = (total + section + digit) * 10**8

            total = section = digit = 0
    integer = high + total + section + digit
    jiao = fen = 0
    digit = 0
    for ch in frac:
        if ch in DIGITS:
            digit = DIGITS.index(ch)
        elif ch == "角":
            jiao, digit = digit, 0
        elif ch == "分":
            fen, digit = digit, 0
    return Decimal(integer) + Decimal(jiao) / 10 + Decimal(fen) / 100
