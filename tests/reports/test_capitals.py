"""POLICY.md §7 / issue 7: amounts in Chinese capitals after 《支付结算办法》附一."""
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.capitals import CapitalsError, amount_in_capitals, parse_capitals

ALLOWED = set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")


@pytest.mark.parametrize(("amount", "capitals"), [
    ("1409.50", "壹仟肆佰零玖元伍角整"),
    ("6007.14", "陆仟零柒元壹角肆分"),
    ("1680.32", "壹仟陆佰捌拾元零叁角贰分"),
    ("107000.53", "壹拾万柒仟元零伍角叁分"),
    ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
    ("1005.00", "壹仟零伍元整"),
    ("0.29", "贰角玖分"),
    ("10.00", "壹拾元整"),
    ("12345.67", "壹万贰仟叁佰肆拾伍元陆角柒分"),
    ("0.00", "零元整"),
    ("100000000.00", "壹亿元整"),
    ("100010000.00", "壹亿零壹万元整"),
    ("1000001.00", "壹佰万零壹元整"),
    ("100000001.00", "壹亿零壹元整"),
    ("100100.00", "壹拾万零壹佰元整"),
    ("1680.02", "壹仟陆佰捌拾元零贰分"),  # both zero rules meet: one 零
    ("1680.50", "壹仟陆佰捌拾元零伍角整"),
    ("0.50", "伍角整"),
    ("0.05", "伍分"),
    ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
])
def test_policy_7_capitals_golden(amount, capitals):
    assert amount_in_capitals(Decimal(amount)) == capitals


def test_policy_7_capitals_refuses_float():
    with pytest.raises(TypeError):
        amount_in_capitals(0.29)  # type: ignore[arg-type]


@pytest.mark.parametrize(("amount", "code"), [
    (Decimal("-0.01"), "negative"),
    (Decimal("1.005"), "sub_fen"),
    (Decimal("NaN"), "not_finite"),
    (Decimal("1000000000000.00"), "too_large"),
])
def test_policy_7_capitals_refuses_bad_amounts(amount, code):
    with pytest.raises(CapitalsError) as exc:
        amount_in_capitals(amount)
    assert exc.value.code == code


def test_policy_7_capitals_trailing_zero_decimal_places_are_fine():
    assert amount_in_capitals(Decimal("10")) == amount_in_capitals(Decimal("10.000")) == "壹拾元整"


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2, allow_nan=False, allow_infinity=False))
def test_policy_7_capitals_round_trip(amount):
    text = amount_in_capitals(amount)
    assert set(text) <= ALLOWED
    assert parse_capitals("人民币" + text) == amount
    assert not text.endswith("分整")  # 整 never after 分
    assert "零零" not in text
