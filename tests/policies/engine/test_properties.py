"""Properties of the engine that must hold for any input (hypothesis)."""
from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from engine_builders import STATS, D, bill, spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.engine import (
    VISIT_TYPES,
    BillIn,
    CertificationIn,
    Flags,
    PersonIn,
    YearState,
    assess_bill,
    assess_bills,
)

ZERO = D("0.00")
CODES = ["beijing-2023", "wuxi-2023", "ningbo-2019", "national-2021", "dongzhi-2022"]
CATEGORY_POOL = ["extreme_poverty", "orphan", "minimum_living", "distressed_child", "marginal_family",
                 "downsized_1960s_worker", "illness_poverty_patient", "good_samaritan", "returned_to_poverty",
                 "monitored_rural", "severe_disability", "low_income_family", "entitled_group"]
FAST = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

money = st.decimals(min_value=0, max_value=400000, places=2, allow_nan=False, allow_infinity=False)
flags = st.builds(Flags, designated=st.booleans(), referral_compliant=st.booleans(), in_province=st.booleans(),
                  major_disease=st.booleans(), rare_disease=st.booleans(), good_samaritan_injury=st.booleans())
days = st.integers(min_value=0, max_value=364)


def _bill(burden: Decimal, visit: str, day: int, fl: Flags, id: str = "b") -> BillIn:
    start = date(2023, 1, 1) + timedelta(days=day)
    return BillIn(id, visit, start, start, burden + D("100.00"), burden + D("100.00"), D("100.00"), ZERO, ZERO, fl)


@st.composite
def bills_of_a_year(draw, max_size=8):
    count = draw(st.integers(1, max_size))
    return [_bill(draw(money), draw(st.sampled_from(VISIT_TYPES)), draw(days), draw(flags), id=f"b{i}")
            for i in range(count)]


def _person(categories, grade=None) -> PersonIn:
    return PersonIn(tuple(CertificationIn(c, date(2019, 1, 1)) for c in categories), grade)


people = st.builds(
    _person,
    st.lists(st.sampled_from(CATEGORY_POOL), min_size=1, max_size=3, unique=True),
    st.one_of(st.none(), st.integers(1, 4)),
)


@FAST
@given(code=st.sampled_from(CODES), who=people, bills=bills_of_a_year())
def test_assistance_never_exceeds_burden_nor_bucket_room(code, who, bills):
    policy = spec(code)
    states: dict[int, YearState] = {}
    for result in assess_bills(policy, who, bills, states, STATS):
        assert ZERO <= result.assistance <= result.burden
        assert ZERO <= result.total <= result.burden
        assert result.total == result.assistance + result.tilted + result.special
        for line in result.buckets:
            if line.cap is not None:
                assert result.assistance <= line.room_before <= line.cap
                assert line.room_after >= ZERO


@FAST
@given(code=st.sampled_from(CODES), who=people, bills=bills_of_a_year())
def test_a_years_total_in_a_capped_bucket_never_exceeds_its_cap(code, who, bills):
    drawn: dict[str, Decimal] = {}
    for result in assess_bills(spec(code), who, bills, None, STATS):
        for line in result.buckets:
            if line.cap is not None:
                drawn[line.name] = drawn.get(line.name, ZERO) + line.drawn
                assert drawn[line.name] <= line.cap
        for item in result.items:  # special items with their own bucket (Ningbo rehabilitation 3000)
            if item.code == "rehabilitation":
                drawn["rehabilitation"] = drawn.get("rehabilitation", ZERO) + item.amount
                assert drawn["rehabilitation"] <= D("3000.00")


@FAST
@given(code=st.sampled_from(CODES), who=people, visit=st.sampled_from(VISIT_TYPES), fl=flags,
       low=money, extra=money)
def test_more_burden_never_yields_less_assistance(code, who, visit, fl, low, extra):
    policy = spec(code)
    small = assess_bill(policy, who, _bill(low, visit, 60, fl), YearState(2023), STATS)
    large = assess_bill(policy, who, _bill(low + extra, visit, 60, fl), YearState(2023), STATS)
    assert large.total >= small.total
    assert large.assistance + large.special >= small.assistance + small.special


@FAST
@given(code=st.sampled_from(CODES), cats=st.lists(st.sampled_from(CATEGORY_POOL), min_size=2, max_size=4,
                                                  unique=True),
       visit=st.sampled_from(VISIT_TYPES), fl=flags, burden=money, grade=st.one_of(st.none(), st.integers(1, 4)))
def test_several_identities_equal_the_best_single_identity(code, cats, visit, fl, burden, grade):
    policy = spec(code)
    b = _bill(burden, visit, 60, fl)

    combined = assess_bill(policy, _person(cats, grade), b, YearState(2023), STATS)
    singles = [assess_bill(policy, _person([c], grade), b, YearState(2023), STATS).total for c in cats]
    assert combined.total == max(singles)


@FAST
@given(code=st.sampled_from(CODES), who=people, bills=bills_of_a_year(), seed=st.integers(0, 2**32))
def test_results_independent_of_the_input_order_of_bills(code, who, bills, seed):
    policy = spec(code)
    shuffled = list(bills)
    random.Random(seed).shuffle(shuffled)
    by_id = {r.bill_id: r for r in assess_bills(policy, who, bills, None, STATS)}
    again = {r.bill_id: r for r in assess_bills(policy, who, shuffled, None, STATS)}
    if len({b.end for b in bills}) == len(bills):
        # settlement order is fixed by the dates: each bill gets the same result in any input order
        assert by_id == again
    # bills with identical data (ids aside) tie on the date: the results, in order, are the same
    first = bills[0]
    twins = [BillIn(f"t{i}", first.visit_type, first.start, first.end, first.total_cost, first.policy_scope_cost,
                    first.basic_paid, first.critical_paid, first.other_paid, first.flags) for i in range(3)]
    rest = bills[1:]
    forward = assess_bills(policy, who, twins + rest, None, STATS)
    backward = assess_bills(policy, who, twins[::-1] + rest, None, STATS)
    assert [r.total for r in forward[:3]] == [r.total for r in backward[:3]]
    assert forward[3:] == backward[3:]


def _numeric(text: str) -> bool:
    try:
        return Decimal(text.strip()).is_finite()
    except ArithmeticError:
        return False


bad_value = st.one_of(
    st.decimals(max_value=D("-0.01"), allow_nan=False, allow_infinity=False),
    st.sampled_from([D("NaN"), D("Infinity"), D("-Infinity"), D("sNaN"), D("1e20")]),
    st.floats(allow_nan=True), st.none(), st.booleans(), st.just([1]),
    st.text(max_size=5).filter(lambda t: not _numeric(t)),  # "12.5" is a number and is accepted
)


@FAST
@given(code=st.sampled_from(CODES), who=people, position=st.integers(0, 4), value=bad_value,
       visit=st.sampled_from(VISIT_TYPES), fl=flags)
def test_random_bad_amounts_give_invalid_amounts_never_an_exception(code, who, position, value, visit, fl):
    amounts = [D("1000.00"), D("1000.00"), D("100.00"), D("100.00"), D("0.00")]
    amounts[position] = value
    bad = BillIn("bad", visit, date(2023, 3, 1), date(2023, 3, 2), *amounts, flags=fl)
    good = bill("1000.00", id="good", start="2023-03-03")
    states: dict[int, YearState] = {}
    first, second = assess_bills(spec(code), who, [bad, good], states, STATS)
    assert first.error == "invalid_amounts"
    assert (first.assistance, first.tilted, first.special, first.total) == (ZERO, ZERO, ZERO, ZERO)
    assert second.error is None
    assert first.to_dict()["total"] == "0.00"


@FAST
@given(a=money, b=money, c=money, other=money)
def test_inconsistent_but_numeric_amounts_are_rejected_exactly_when_the_rules_say(a, b, c, other):
    total, scope, basic = a, b, c
    bill_in = BillIn("x", "inpatient", date(2023, 3, 1), date(2023, 3, 1), total, scope, basic, ZERO, other)
    result = assess_bill(spec("beijing-2023"), PersonIn((CertificationIn("minimum_living", date(2023, 1, 1)),)),
                         bill_in, YearState(2023))
    consistent = total >= scope >= basic
    assert (result.error is None) == consistent
    if consistent:
        assert result.burden == max(ZERO, scope - basic - other)
