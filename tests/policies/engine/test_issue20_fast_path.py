"""Issue 20: the precompiled fast path gives exactly what the old exact Decimal path gave.

``reference_engine`` is the engine's bill path frozen as it stood before issue 20. For random
policies (the five presets, and the presets with random rates, caps, deductibles, cap counting and
tilted thresholds), random people (several identities, gained and lost during the year, disability
grades) and random bills (every visit type, every flag, dates outside the policy period, bad
amounts, three-decimal amounts on the .005 half-up boundary), every field of every result is
equal — amounts with their exponent (``repr``), reasons, clauses, bucket and item lines, the
explanation lines and ``to_dict()`` — and so are the year states left behind.
"""
from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
import reference_engine as old
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.engine import (
    VISIT_TYPES,
    BillIn,
    CertificationIn,
    Flags,
    PersonIn,
    PolicySpec,
    YearState,
    assess_bill,
    assess_bills,
    load_preset,
)
from policies.engine.presets import PRESETS

D = Decimal
ZERO = D("0.00")
CODES = sorted(PRESETS)
SETTINGS = settings(max_examples=300, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
STATS = {y: {"per_capita_disposable_income": D("50000.00"), "resident_contribution": D("380.00")}
         for y in range(2018, 2025)}
STATS_GAP = {y: v for y, v in STATS.items() if y != 2022}  # no 2022 statistics: 2023 deductibles missing


def _same(new, ref) -> None:
    """Field by field with the representation (exponent) of every Decimal."""
    assert repr(tuple(new)[:-1]) == repr(tuple(ref)[:-1])
    assert new.plan == ref.plan
    assert new.digest() == ref.digest()
    assert new.lines == ref.lines
    assert new.to_dict() == ref.to_dict()


def _same_states(new: dict[int, YearState], ref: dict[int, YearState]) -> None:
    assert sorted(new) == sorted(ref)
    for year in new:
        a, b = new[year], ref[year]
        assert repr(sorted(a.bucket_used.items())) == repr(sorted(b.bucket_used.items()))
        assert repr(a.deductible_used) == repr(b.deductible_used)
        assert repr(a.tilted_base) == repr(b.tilted_base)


# --- policies ----------------------------------------------------------------------------------

rates = st.sampled_from(["1.00", "0.85", "0.8", "0.70", "0.65", "0.6", "0.555", "0.333", "0.125", "0"])
caps = st.one_of(st.none(), st.sampled_from(["500.00", "8000", "10000.00", "80000.00", "160000.005", "0.00"]))


@st.composite
def policies(draw) -> PolicySpec:
    code = draw(st.sampled_from(CODES))
    if draw(st.booleans()):
        return load_preset(code)
    data = copy.deepcopy(PRESETS[code])
    for tier in data["tiers"]:
        for visit in tier["visit_classes"].values():
            if draw(st.booleans()):
                visit["rate"] = draw(rates)
        for bucket in tier.get("buckets", {}).values():
            if draw(st.booleans()):
                bucket["cap"] = draw(caps)
        if draw(st.integers(0, 3)) == 0:
            tier["deductible"] = {"kind": "fixed", "amount": draw(st.sampled_from(["300.00", "1000", "0.01"])),
                                  "clause": tier["deductible"].get("clause", "test deductible")}
    if draw(st.booleans()):
        data["caps"] = {"count": draw(st.sampled_from(["capped_tiers", "all_tiers"])), "clause": "POLICY.md §9"}
    if data.get("tilted") and draw(st.booleans()):
        data["tilted"] = dict(data["tilted"], threshold=draw(st.sampled_from(["0", "1000.00", "20000.00"])),
                              cap=draw(st.one_of(st.none(), st.just("500.00"))))
    return PolicySpec.from_dict(data)


# --- people and bills --------------------------------------------------------------------------

categories = st.sampled_from(["extreme_poverty", "orphan", "minimum_living", "distressed_child", "marginal_family",
                              "low_income_family", "hardship_allowance", "downsized_1960s_worker",
                              "illness_poverty_patient", "good_samaritan", "returned_to_poverty", "monitored_rural",
                              "severe_disability", "disability_allowance", "expenditure_hardship_patient",
                              "hiv_patient", "entitled_group"])
year_days = st.integers(min_value=-400, max_value=760)  # around 2023, into 2022 and 2024/25
BASE = date(2023, 1, 1)


@st.composite
def people(draw) -> PersonIn:
    certs = []
    for _ in range(draw(st.integers(1, 4))):
        since = BASE + timedelta(days=draw(st.integers(-800, 400)))
        until = None
        if draw(st.booleans()):
            until = since + timedelta(days=draw(st.integers(0, 500)))
        certs.append(CertificationIn(draw(categories), since, until))
    return PersonIn(tuple(certs), draw(st.one_of(st.none(), st.integers(1, 4))))


# two-place amounts, and three-place ones ending in 5 (the half-up boundary of the burden)
cents = st.integers(0, 40_000_000).map(lambda n: D(n).scaleb(-2))
half_fen = st.integers(0, 4_000_000).map(lambda n: D(10 * n + 5).scaleb(-3))
small_cents = st.integers(0, 3000).map(lambda n: D(n).scaleb(-2))  # where burden × rate hits x.xx5 often
amounts = st.one_of(cents, half_fen, small_cents)
flags = st.builds(Flags, designated=st.booleans(), referral_compliant=st.booleans(), in_province=st.booleans(),
                  major_disease=st.booleans(), rare_disease=st.booleans(), good_samaritan_injury=st.booleans())


@st.composite
def bills(draw, index: int) -> BillIn:
    burden = draw(amounts)
    basic = draw(st.one_of(st.just(ZERO), amounts))
    critical = draw(st.one_of(st.just(ZERO), small_cents))
    other = draw(st.one_of(st.just(ZERO), small_cents))
    scope = burden + basic + critical + other
    total = scope + draw(st.one_of(st.just(ZERO), small_cents))
    bad = draw(st.integers(0, 30))
    if bad == 0:
        basic = scope + D("0.01")  # basic above scope
    elif bad == 1:
        total = scope - D("0.01")
    elif bad == 2:
        other = -D("1.00")
    elif bad == 3:
        total = str(total)  # not a Decimal: read by its text
    start = BASE + timedelta(days=draw(year_days))
    end = start + timedelta(days=draw(st.sampled_from([0, 0, 0, 1, 5, 40])))
    if draw(st.integers(0, 40)) == 0:
        start, end = end + timedelta(days=1), end  # invalid dates
    return BillIn(f"b{index}", draw(st.sampled_from(VISIT_TYPES)), start, end, total, scope, basic, critical,
                  other, draw(flags))


@st.composite
def bill_lists(draw) -> list[BillIn]:
    return [draw(bills(i)) for i in range(draw(st.integers(1, 10)))]


@SETTINGS
@given(policy=policies(), person=people(), bills=bill_lists(), gap=st.booleans())
def test_issue20_fast_path_equals_the_exact_decimal_path(policy, person, bills, gap):
    stats = STATS_GAP if gap else STATS
    new_states: dict[int, YearState] = {}
    ref_states: dict[int, YearState] = {}
    new = assess_bills(policy, person, bills, new_states, stats)
    ref = old.assess_bills(policy, person, bills, ref_states, stats)
    assert len(new) == len(ref)
    for a, b in zip(new, ref, strict=True):
        _same(a, b)
    _same_states(new_states, ref_states)


@SETTINGS
@given(policy=policies(), person=people(), bills=bill_lists())
def test_issue20_assess_bill_one_at_a_time_equals_the_old_path(policy, person, bills):
    """``assess_bill`` with a state carried from bill to bill (nightly recalculation's way)."""
    new_states: dict[int, YearState] = {}
    ref_states: dict[int, YearState] = {}
    for one in sorted((b for b in bills if b.start <= b.end), key=lambda b: b.end):
        year = one.end.year
        a = assess_bill(policy, person, one, new_states.setdefault(year, YearState(year)), STATS)
        b = old.assess_bill(policy, person, one, ref_states.setdefault(year, YearState(year)), STATS)
        _same(a, b)
    _same_states(new_states, ref_states)


@pytest.mark.parametrize("code", CODES)
def test_issue20_half_up_at_every_half_fen_boundary(code):
    """Burdens across 0.00–30.00 (and their .005 neighbours) under every tier and visit type of each
    preset: the fast path rounds exactly as the Decimal path, and .xx5 goes up."""
    policy = load_preset(code)
    year = max(policy.effective_from.year, 2023)
    day = date(year, 6, 1)
    boundary_hits = 0
    one_per_tier = {entry[2].code: category for category, entry in sorted(policy.category_plan.items())}
    for category in one_per_tier.values():
        person = PersonIn((CertificationIn(category, date(year - 1, 1, 1)),))
        for visit in VISIT_TYPES:
            for n in range(0, 3001, 11):
                for burden in (D(n).scaleb(-2), D(10 * n + 5).scaleb(-3)):
                    one = BillIn("b", visit, day, day, burden, burden, ZERO, ZERO, ZERO, Flags())
                    a = assess_bills(policy, person, [one], {}, STATS)[0]
                    b = old.assess_bills(policy, person, [one], {}, STATS)[0]
                    _same(a, b)
                    if a.rate is not None and not a.deductible:
                        exact = a.burden * a.rate
                        thousandths = exact.scaleb(3)
                        if thousandths == thousandths.to_integral_value() and thousandths % 10 == 5:
                            boundary_hits += 1  # x.xx5 exactly: half up
                            assert a.raw == exact.quantize(D("0.01"), ROUND_HALF_UP) > exact
    assert boundary_hits > 0  # the loop really crossed .005 products
