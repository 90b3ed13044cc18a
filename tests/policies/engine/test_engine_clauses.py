"""One test per clause of POLICY.md, named after it (s1 = §1, s3_2 = §3.2, ...)."""
from __future__ import annotations

import pytest
from engine_builders import STATS, D, bill, d, edited, person, spec

from policies.engine import (
    ApplicationIn,
    BillIn,
    CertificationIn,
    Flags,
    HouseholdMemberIn,
    MissingStatisticError,
    PersonIn,
    YearState,
    assess_application,
    assess_bill,
    assess_bills,
    covering_categories,
    premium_subsidy,
    subsidy_timing,
    warning_kind,
)
from policies.engine.types import CATEGORIES

ZERO = D("0.00")


def one(code: str, who, b, stats=None, state=None):
    state = state or YearState(b.end.year)
    return assess_bill(spec(code), who, b, state, stats or {}), state


# --------------------------------------------------------------------------------------------
# §1 three tiers, burden, amounts, designated institutions, referral
# --------------------------------------------------------------------------------------------


def test_s1_burden_is_scope_minus_basic_critical_other():
    b = BillIn("b1", "inpatient", d("2023-03-01"), d("2023-03-10"), D("100000.00"), D("90000.00"), D("60000.00"),
               D("10000.00"), D("5000.00"))
    result, _ = one("beijing-2023", person("minimum_living"), b)
    assert result.burden == D("15000.00")
    assert result.assistance == D("12750.00")


def test_s1_burden_floored_at_zero():
    # other payments may exceed what is left (e.g. commercial insurance): burden 0, not negative
    b = BillIn("b", "inpatient", d("2023-03-01"), d("2023-03-02"), D("1000.00"), D("1000.00"), D("600.00"),
               D("0.00"), D("700.00"))
    result, state = one("beijing-2023", person("minimum_living"), b)
    assert result.error is None
    assert (result.burden, result.assistance, result.total) == (ZERO, ZERO, ZERO)


@pytest.mark.parametrize("amounts", [
    ("1000.00", "1000.00", "-1.00", "0.00", "0.00"),      # negative
    ("900.00", "1000.00", "0.00", "0.00", "0.00"),        # total < scope
    ("1000.00", "1000.00", "800.00", "300.00", "0.00"),   # scope < basic + critical
    ("1000.00", "1000.00", "0.00", "0.00", "-0.01"),      # negative other
    ("abc", "1000.00", "0.00", "0.00", "0.00"),           # non-numeric
    (1000.0, "1000.00", "0.00", "0.00", "0.00"),          # binary float
    ("NaN", "1000.00", "0.00", "0.00", "0.00"),
    ("Infinity", "1000.00", "0.00", "0.00", "0.00"),
    (None, "1000.00", "0.00", "0.00", "0.00"),
])
def test_s1_invalid_amounts_rejected_never_clamped(amounts):
    values = [D(a) if isinstance(a, str) and a[0] in "-0123456789NI" else a for a in amounts]
    b = BillIn("bad", "inpatient", d("2023-03-01"), d("2023-03-02"), *values)
    state = YearState(2023)
    result = assess_bill(spec("beijing-2023"), person("minimum_living"), b, state)
    assert result.error == "invalid_amounts"
    assert (result.assistance, result.tilted, result.special, result.total) == (ZERO, ZERO, ZERO, ZERO)
    assert result.to_dict()["error"] == "invalid_amounts"
    assert state == YearState(2023)


def test_s1_bad_bill_then_following_bills_still_compute():
    bad = BillIn("bad", "inpatient", d("2023-03-01"), d("2023-03-02"), D("1.00"), D("2.00"), D("0"), D("0"), D("0"))
    results = assess_bills(spec("beijing-2023"), person("minimum_living"), [bad, bill("100.00", id="ok")])
    assert [r.error for r in results] == ["invalid_amounts", None]
    assert results[1].assistance == D("85.00")


def test_s1_round_half_up_at_each_line():
    # 1234.56 × 80% = 987.648 → 987.65; 0.005 rounds up, never to even
    result, _ = one("beijing-2023", person("downsized_1960s_worker"), bill("1234.56", visit="outpatient"))
    assert result.raw == result.assistance == D("987.65")
    result, _ = one("beijing-2023", person("downsized_1960s_worker"), bill("0.05", visit="inpatient"))
    assert result.assistance == D("0.04")  # 0.0425 → 0.04
    result, _ = one("wuxi-2023", person("minimum_living"), bill("0.30"))
    assert result.assistance == D("0.26")  # 0.255 → 0.26 (half up, not half even)


def test_s1_non_designated_not_covered():
    result, state = one("wuxi-2023", person("minimum_living"), bill("1000.00", designated=False))
    assert result.total == ZERO and "non_designated" in result.reasons
    assert state.bucket_used == {}


@pytest.mark.parametrize("code", ["beijing-2023", "national-2021", "dongzhi-2022"])
def test_s1_unreferred_not_covered_where_policy_says_so(code):
    result, _ = one(code, person("minimum_living"), bill("1000.00", referral_compliant=False), STATS)
    assert result.total == ZERO and result.reasons == ("unreferred",)
    assert any(code_clause for code_clause in result.clauses)


@pytest.mark.parametrize("code, expected", [("wuxi-2023", "850.00"), ("ningbo-2019", "700.00")])
def test_s1_unreferred_still_covered_wuxi_ningbo_regular_assistance(code, expected):
    result, _ = one(code, person("minimum_living"), bill("1000.00", referral_compliant=False))
    assert result.assistance == D(expected)


# --------------------------------------------------------------------------------------------
# §2 beneficiaries, coverage window, several identities
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["beijing-2023", "wuxi-2023", "ningbo-2019", "national-2021", "dongzhi-2022"])
def test_s2_presets_use_only_the_category_vocabulary(code):
    policy = spec(code)
    used = {ct.category for ct in policy.category_tiers}
    used |= {c for s in policy.application_schemes for c in s.categories}
    used |= {c for r in policy.premium_subsidies.rules for c in r.categories}
    assert used <= set(CATEGORIES)


def test_s2_coverage_window_same_day_beijing():
    who = person("minimum_living", since="2023-02-01", until="2023-04-10")
    on_last_day, _ = one("beijing-2023", who, bill("1000.00", start="2023-04-10"))
    next_day, _ = one("beijing-2023", who, bill("1000.00", start="2023-04-11"))
    before, _ = one("beijing-2023", who, bill("1000.00", start="2023-01-31"))
    assert on_last_day.assistance == D("850.00")
    assert next_day.reasons == ("not_eligible",) and next_day.total == ZERO
    assert before.reasons == ("not_eligible",)


def test_s2_coverage_window_end_of_month_wuxi():
    who = person("minimum_living", since="2023-01-01", until="2023-04-10")
    month_end, _ = one("wuxi-2023", who, bill("1000.00", start="2023-04-30"))
    next_month, _ = one("wuxi-2023", who, bill("1000.00", start="2023-05-01"))
    assert spec("wuxi-2023").coverage_ends == "end_of_month"
    assert month_end.assistance == D("850.00")
    assert next_month.reasons == ("not_eligible",)


def test_s2_identity_lost_during_stay_keeps_that_stay():
    who = person("minimum_living", since="2023-01-01", until="2023-03-03")
    result, _ = one("beijing-2023", who, bill("20000.00", start="2023-03-01", end="2023-03-20"))
    assert result.assistance == D("17000.00")


def test_s2_identity_gained_during_stay_covers_whole_stay():
    who = person("minimum_living", since="2023-03-15")
    result, _ = one("beijing-2023", who, bill("20000.00", start="2023-03-01", end="2023-03-20"))
    assert result.assistance == D("17000.00") and result.category == "minimum_living"


def test_s2_covering_categories_overlap_the_service_window():
    who = PersonIn((CertificationIn("minimum_living", d("2023-01-01"), d("2023-03-03")),
                    CertificationIn("downsized_1960s_worker", d("2023-03-10")),
                    CertificationIn("orphan", d("2023-05-01")),
                    CertificationIn("minimum_living", d("2023-03-05"))))
    stay = bill("1.00", start="2023-03-01", end="2023-03-12")
    assert covering_categories(spec("beijing-2023"), who, stay) == ["minimum_living", "downsized_1960s_worker"]


def test_s2_several_identities_pay_the_highest_once():
    who = person("minimum_living", "downsized_1960s_worker")
    result, state = one("beijing-2023", who, bill("200000.00"))
    # 低保 would give min(170000, 160000); 精减退职 85% with no cap = 170000, paid once
    assert (result.total, result.tier, result.category) == (D("170000.00"), "BJ-2", "downsized_1960s_worker")
    # paid under BJ-2 (no cap): it does not use up BJ-3's 160000 (POLICY.md §9, caps across identities)
    assert state.bucket_used == {}


def test_s2_several_identities_tie_is_deterministic():
    # 特困 and 孤儿 are both WX-100: equal totals; the earlier mapping wins whatever the input order
    a = person("orphan", "extreme_poverty")
    b = person("extreme_poverty", "orphan")
    first, _ = one("wuxi-2023", a, bill("1000.00"))
    second, _ = one("wuxi-2023", b, bill("1000.00"))
    assert first.category == second.category == "extreme_poverty"


# --------------------------------------------------------------------------------------------
# §3 per-bill calculation: order, per-year caps, explanation
# --------------------------------------------------------------------------------------------


def test_s3_settlement_order_end_date_then_input_order():
    later = bill("10000.00", id="later", visit="outpatient", start="2023-05-01")
    earlier = bill("2500.00", id="earlier", visit="outpatient", start="2023-03-01")
    results = assess_bills(spec("beijing-2023"), person("minimum_living"), [later, earlier])
    assert [r.bill_id for r in results] == ["later", "earlier"]  # input order
    assert [r.assistance for r in results] == [D("6000.00"), D("2000.00")]  # earlier settled first
    same_day = [bill("10000.00", id="x", visit="outpatient"), bill("10000.00", id="y", visit="outpatient")]
    results = assess_bills(spec("beijing-2023"), person("minimum_living"), same_day)
    assert [r.assistance for r in results] == [D("8000.00"), ZERO]


def test_s3_caps_are_per_calendar_year_of_settlement():
    stay = bill("10000.00", id="o1", visit="outpatient", start="2023-12-31")
    new_year = bill("10000.00", id="o2", visit="outpatient", start="2024-01-02")
    states: dict[int, YearState] = {}
    results = assess_bills(spec("beijing-2023"), person("minimum_living"), [stay, new_year], states)
    assert [r.assistance for r in results] == [D("8000.00"), D("8000.00")]
    assert sorted(states) == [2023, 2024]
    # a stay across new year counts in the year of its settlement date
    across = bill("10000.00", id="o3", visit="outpatient", start="2023-12-30", end="2024-01-03")
    assert assess_bills(spec("beijing-2023"), person("minimum_living"), [across], states)[0].reasons == (
        "cap_exhausted",)


def test_s3_explanation_lists_steps_rooms_reasons_and_clauses():
    state = YearState(2023, {"outpatient": D("7000.00")})
    result, _ = one("beijing-2023", person("minimum_living"), bill("2000.00", visit="outpatient"), state=state)
    assert result.assistance == D("1000.00") and result.reasons == ("cap_limited",)
    (line,) = result.buckets
    assert (line.name, line.cap, line.room_before, line.room_after, line.drawn) == (
        "outpatient", D("8000.00"), D("1000.00"), ZERO, D("1000.00"))
    keys = [x.key for x in result.lines]
    assert keys[:6] == ["category", "tier", "visit_class", "burden", "deductible", "rate"]
    assert "bucket:outpatient" in keys and keys[-1] == "reason:cap_limited"
    assert "京医保发〔2022〕37号 六(一)3" in result.clauses
    data = result.to_dict()
    assert data["assistance"] == "1000.00" and data["tier"] == "BJ-3"
    assert data["explanation"]["buckets"][0]["room_before"] == "1000.00"
    assert all(line["clause"] for line in data["explanation"]["lines"]
               if line["key"] in ("category", "tier", "rate", "bucket:outpatient", "reason:cap_limited"))


def test_s3_invalid_dates_are_an_error_not_an_exception():
    b = bill("100.00", start="2023-03-05", end="2023-03-01")
    result = assess_bills(spec("beijing-2023"), person("minimum_living"), [b])[0]
    assert result.error == "invalid_dates" and result.total == ZERO


def test_s3_bills_outside_the_policy_period_get_nothing():
    result, _ = one("beijing-2023", person("minimum_living"), bill("100.00", start="2022-12-31"))
    assert result.reasons == ("outside_policy_period",) and result.total == ZERO


# --------------------------------------------------------------------------------------------
# §3.1 Beijing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", ["extreme_poverty", "disabled_returned_youth"])
def test_s3_1_beijing_t1_100_percent_no_cap(category):
    result, _ = one("beijing-2023", person(category), bill("300000.00"))
    out, _ = one("beijing-2023", person(category), bill("50000.00", visit="outpatient"))
    assert (result.assistance, result.tier, result.buckets[0].cap) == (D("300000.00"), "BJ-1", None)
    assert out.assistance == D("50000.00")


def test_s3_1_beijing_t2_80_outpatient_85_inpatient_no_cap():
    out, _ = one("beijing-2023", person("downsized_1960s_worker"), bill("100000.00", visit="outpatient"))
    inp, _ = one("beijing-2023", person("downsized_1960s_worker"), bill("1000000.00"))
    assert (out.assistance, inp.assistance) == (D("80000.00"), D("850000.00"))


@pytest.mark.parametrize("category", ["minimum_living", "hardship_allowance", "low_income_family"])
def test_s3_1_beijing_t3_outpatient_cap_8000(category):
    bills = [bill("4000.00", id=f"o{i}", visit="outpatient", start=f"2023-0{i}-01") for i in range(1, 5)]
    results = assess_bills(spec("beijing-2023"), person(category), bills)
    assert [r.assistance for r in results] == [D("3200.00"), D("3200.00"), D("1600.00"), ZERO]
    assert results[2].reasons == ("cap_limited",) and results[3].reasons == ("cap_exhausted",)


def test_s3_1_beijing_t3_inpatient_85_cap_160000():
    result, state = one("beijing-2023", person("minimum_living"), bill("200000.00"))
    assert (result.raw, result.assistance, result.reasons) == (D("170000.00"), D("160000.00"), ("cap_limited",))
    assert state.bucket_used["inpatient"] == D("160000.00")


def test_s3_1_beijing_outpatient_special_uses_inpatient_rate_and_bucket():
    bills = [bill("10000.00", id="s1", visit="outpatient_special"), bill("10000.00", id="o1", visit="outpatient")]
    states: dict[int, YearState] = {}
    results = assess_bills(spec("beijing-2023"), person("minimum_living"), bills, states)
    assert [r.assistance for r in results] == [D("8500.00"), D("8000.00")]
    assert results[0].visit_class == "inpatient"
    assert states[2023].bucket_used == {"inpatient": D("8500.00"), "outpatient": D("8000.00")}


def test_s3_1_beijing_no_deductible():
    result, state = one("beijing-2023", person("minimum_living"), bill("0.01", visit="outpatient"))
    assert result.deductible == ZERO and result.assistance == D("0.01")  # 0.008 → 0.01
    assert state.deductible_used == ZERO


def test_s3_1_beijing_illness_poverty_patient_not_per_bill():
    result, _ = one("beijing-2023", person("illness_poverty_patient"), bill("10000.00"))
    assert result.reasons == ("not_eligible",) and result.total == ZERO


# --------------------------------------------------------------------------------------------
# §3.2 Wuxi
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("category, tier, expected", [
    ("extreme_poverty", "WX-100", "1000.00"), ("orphan", "WX-100", "1000.00"),
    ("minimum_living", "WX-85", "850.00"), ("distressed_child", "WX-85", "850.00"),
    ("entitled_group", "WX-85", "850.00"), ("downsized_1960s_worker", "WX-85", "850.00"),
    ("hardship_worker", "WX-85", "850.00"), ("marginal_family", "WX-70", "700.00"),
    ("expenditure_hardship_patient", "WX-70", "700.00"), ("temporary_relief_patient", "WX-70", "700.00"),
    ("severe_disability", "WX-70", "700.00"), ("other_special", "WX-70", "700.00"),
])
def test_s3_2_wuxi_rates_100_85_70_no_deductible(category, tier, expected):
    result, _ = one("wuxi-2023", person(category), bill("1000.00"))
    assert (result.tier, result.assistance, result.deductible) == (tier, D(expected), ZERO)


def test_s3_2_wuxi_outpatient_cap_10000():
    result, state = one("wuxi-2023", person("minimum_living"), bill("20000.00", visit="outpatient"))
    assert (result.assistance, result.reasons) == (D("10000.00"), ("cap_limited",))
    assert state.bucket_used == {"outpatient": D("10000.00")}


def test_s3_2_wuxi_main_bucket_300000_shared_by_special_outpatient_and_inpatient():
    bills = [bill("250000.00", id="b1"), bill("100000.00", id="s1", visit="outpatient_special", start="2023-04-01")]
    results = assess_bills(spec("wuxi-2023"), person("extreme_poverty"), bills)
    assert [r.assistance for r in results] == [D("250000.00"), D("50000.00")]
    assert results[1].reasons[0] == "cap_limited"


def test_s3_2_wuxi_tilted_60_above_6000():
    bills = [bill("30000.00", id="b1"), bill("10000.00", id="b2", start="2023-05-01")]
    states: dict[int, YearState] = {}
    results = assess_bills(spec("wuxi-2023"), person("marginal_family"), bills, states)
    # remaining 9000 → 60% × 3000 = 1800; remaining 12000 → 60% × (6000 − 3000) = 1800
    assert [(r.assistance, r.tilted, r.total) for r in results] == [
        (D("21000.00"), D("1800.00"), D("22800.00")), (D("7000.00"), D("1800.00"), D("8800.00"))]
    assert states[2023].tilted_base == D("12000.00")
    assert results[0].items[0].clause.endswith("四(七)")


def test_s3_2_wuxi_tilted_needs_referral_and_in_province():
    bills = [bill("30000.00", id="u", referral_compliant=False),
             bill("30000.00", id="o", in_province=False, start="2023-04-01"),
             bill("30000.00", id="ok", start="2023-05-01")]
    states: dict[int, YearState] = {}
    results = assess_bills(spec("wuxi-2023"), person("marginal_family"), bills, states)
    assert [r.assistance for r in results] == [D("21000.00")] * 3
    assert [r.tilted for r in results] == [ZERO, ZERO, D("1800.00")]
    assert states[2023].tilted_base == D("9000.00")  # only the compliant bill counts


def test_s3_2_wuxi_tilted_is_outside_the_300000_bucket_and_uncapped():
    result, state = one("wuxi-2023", person("marginal_family"), bill("1000000.00"))
    assert result.assistance == D("300000.00")
    assert result.tilted == D("416400.00")  # 60% × (700000 − 6000)
    assert result.total == D("716400.00")
    assert state.bucket_used == {"main": D("300000.00")}


# --------------------------------------------------------------------------------------------
# §3.3 Ningbo
# --------------------------------------------------------------------------------------------


def test_s3_3_ningbo_nb1_full_inpatient_outpatient_500():
    inp, _ = one("ningbo-2019", person("extreme_poverty"), bill("200000.00", start="2020-03-01"))
    out, _ = one("ningbo-2019", person("extreme_poverty"), bill("1000.00", visit="outpatient", start="2020-03-01"))
    assert (inp.tier, inp.assistance, inp.buckets) == ("NB-1", D("200000.00"), ())
    assert (out.assistance, out.reasons) == (D("500.00"), ("cap_limited",))


@pytest.mark.parametrize("category", ["minimum_living", "distressed_child", "marginal_family",
                                      "illness_poverty_patient", "downsized_1960s_worker", "veteran_party_member",
                                      "entitled_group", "hiv_patient", "disability_allowance"])
def test_s3_3_ningbo_nb70_inpatient_70_within_annual_80000(category):
    result, state = one("ningbo-2019", person(category), bill("200000.00", start="2020-03-01"))
    assert (result.tier, result.raw, result.assistance) == ("NB-70", D("140000.00"), D("80000.00"))
    assert state.bucket_used == {"annual": D("80000.00")}


def test_s3_3_ningbo_outpatient_500_counts_in_annual():
    bills = [bill("1000.00", id="o1", visit="outpatient", start="2020-02-01"),
             bill("200000.00", id="b1", start="2020-03-01")]
    results = assess_bills(spec("ningbo-2019"), person("minimum_living"), bills)
    assert [r.assistance for r in results] == [D("500.00"), D("79500.00")]


def test_s3_3_ningbo_major_disease_outpatient_treated_as_inpatient():
    result, state = one("ningbo-2019", person("minimum_living"),
                        bill("10000.00", visit="outpatient", start="2020-02-01", major_disease=True))
    assert (result.visit_class, result.assistance) == ("inpatient", D("7000.00"))
    assert "outpatient" not in state.bucket_used


def test_s3_3_ningbo_good_samaritan_only_injuries_from_the_act():
    who = person("good_samaritan")
    hurt, _ = one("ningbo-2019", who, bill("30000.00", start="2020-03-01", good_samaritan_injury=True))
    rehab, _ = one("ningbo-2019", who, bill("3000.00", visit="rehabilitation", start="2020-03-01",
                                            good_samaritan_injury=True))
    ill, _ = one("ningbo-2019", who, bill("30000.00", start="2020-03-01"))
    assert (hurt.tier, hurt.assistance) == ("NB-GS", D("30000.00"))
    assert rehab.total == D("3000.00")
    assert ill.total == ZERO and ill.reasons == ("not_eligible",)


def test_s3_3_ningbo_maternity_900_for_minimum_living_only():
    birth = bill("2000.00", visit="maternity", start="2020-05-01")
    low, _ = one("ningbo-2019", person("minimum_living"), birth)
    edge, _ = one("ningbo-2019", person("marginal_family"), birth)
    small, _ = one("ningbo-2019", person("minimum_living"), bill("500.00", visit="maternity", start="2020-05-01"))
    assert (low.assistance, low.special, low.total) == (ZERO, D("900.00"), D("900.00"))
    # not 低保: no grant, but the childbirth is still a hospital stay (三(二)1, POLICY.md §9)
    assert (edge.assistance, edge.special, edge.tier) == (D("1400.00"), ZERO, "NB-70")
    assert small.special == D("500.00")  # interpretation: never more than the remaining burden


def test_s3_3_ningbo_rehabilitation_grade_1_2_only():
    rehab = bill("4000.00", visit="rehabilitation", start="2020-03-01")
    for grade, special, assistance in [(1, "2000.00", "0.00"), (2, "2000.00", "0.00"), (3, "0.00", "2800.00"),
                                       (None, "0.00", "2800.00")]:
        result, _ = one("ningbo-2019", person("marginal_family", grade=grade), rehab)
        assert result.special == D(special), grade
        assert result.assistance == D(assistance), grade  # otherwise an ordinary stay, 三(二)1 70%


def test_s3_3_ningbo_rehabilitation_50_percent_cap_3000_a_year():
    bills = [bill("4000.00", id=f"r{i}", visit="rehabilitation", start=f"2020-0{i}-01") for i in (3, 4, 5)]
    states: dict[int, YearState] = {}
    results = assess_bills(spec("ningbo-2019"), person("minimum_living", grade=1), bills, states)
    assert [r.special for r in results] == [D("2000.00"), D("1000.00"), ZERO]
    assert [tuple(x for x in r.reasons if x != "special_instead") for r in results] == [
        (), ("cap_limited",), ("cap_exhausted",)]
    assert states[2020].bucket_used == {"rehabilitation": D("3000.00")}  # outside the 80000 bucket


def test_s3_3_ningbo_rare_disease_full_outside_caps():
    state = YearState(2020, {"annual": D("80000.00")})
    result, _ = one("ningbo-2019", person("minimum_living"), bill("50000.00", start="2020-03-01", rare_disease=True),
                    state=state)
    assert (result.assistance, result.special, result.total) == (ZERO, D("50000.00"), D("50000.00"))
    assert state.bucket_used == {"annual": D("80000.00")}


# --------------------------------------------------------------------------------------------
# §3.4 national framework and Dongzhi
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("category, tier, deductible, assistance", [
    ("minimum_living", "NT-1", "0.00", "14000.00"),
    ("extreme_poverty", "NT-1", "0.00", "14000.00"),
    ("returned_to_poverty", "NT-1", "0.00", "14000.00"),
    ("marginal_family", "NT-2", "5000.00", "9750.00"),      # 10% × 50000; (20000 − 5000) × 65%
    ("monitored_rural", "NT-2", "5000.00", "9750.00"),
    ("illness_poverty_patient", "NT-3", "12500.00", "4500.00"),  # 25% × 50000; 7500 × 60%
])
def test_s3_4_national_deductible_share_of_previous_year_income(category, tier, deductible, assistance):
    result, _ = one("national-2021", person(category), bill("20000.00"), STATS)
    assert (result.tier, result.deductible, result.assistance) == (tier, D(deductible), D(assistance))


def test_s3_4_national_deductible_is_annual():
    bills = [bill("3000.00", id="b1"), bill("10000.00", id="b2", start="2023-04-01")]
    states: dict[int, YearState] = {}
    results = assess_bills(spec("national-2021"), person("marginal_family"), bills, states, STATS)
    assert [(r.deductible, r.assistance) for r in results] == [(D("3000.00"), ZERO), (D("2000.00"), D("5200.00"))]
    assert states[2023].deductible_used == D("5000.00")


def test_s3_4_national_missing_statistic():
    only_2023 = {2023: {"per_capita_disposable_income": D("52000.00")}}
    bills = [bill("20000.00", id="b1"), bill("20000.00", id="b2", start="2023-04-01")]
    states: dict[int, YearState] = {}
    results = assess_bills(spec("national-2021"), person("marginal_family"), bills, states, only_2023)
    assert [r.error for r in results] == ["missing_statistic", "missing_statistic"]  # needs 2022, not 2023
    assert states[2023] == YearState(2023)
    # a tier without a deductible needs no statistic
    ok, _ = one("national-2021", person("minimum_living"), bill("20000.00"), {})
    assert ok.error is None and ok.assistance == D("14000.00")


def test_s3_4_national_general_outpatient_not_covered():
    result, _ = one("national-2021", person("minimum_living"), bill("1000.00", visit="outpatient"), STATS)
    special, _ = one("national-2021", person("minimum_living"), bill("1000.00", visit="outpatient_special"), STATS)
    assert result.total == ZERO and result.reasons == ("visit_not_covered",)
    assert "四(四)" in result.clauses[-1]
    assert special.assistance == D("700.00")


def test_s3_4_national_annual_cap_shared_by_outpatient_special_and_inpatient():
    bills = [bill("100000.00", id="b1"), bill("100000.00", id="s1", visit="outpatient_special", start="2023-04-01")]
    results = assess_bills(spec("national-2021"), person("minimum_living"), bills, None, STATS)
    assert [r.assistance for r in results] == [D("70000.00"), D("30000.00")]


def test_s3_4_national_is_a_template_needing_confirmation():
    assert spec("national-2021").needs_confirmation is True


def test_s3_4_dongzhi_uses_the_template_values_with_returned_to_poverty_top_tier():
    for category, expected in [("returned_to_poverty", "14000.00"), ("minimum_living", "14000.00"),
                               ("monitored_rural", "9750.00")]:
        result, _ = one("dongzhi-2022", person(category), bill("20000.00"), STATS)
        assert result.assistance == D(expected), category


@pytest.mark.parametrize("code", ["beijing-2023", "wuxi-2023", "national-2021", "dongzhi-2022"])
@pytest.mark.parametrize("visit", ["maternity", "rehabilitation"])
def test_s3_4_maternity_and_rehabilitation_as_inpatient_without_a_special_rule(code, visit):
    as_visit, _ = one(code, person("minimum_living"), bill("10000.00", visit=visit), STATS)
    as_inpatient, _ = one(code, person("minimum_living"), bill("10000.00"), STATS)
    assert as_visit.visit_class == "inpatient"
    assert as_visit.total == as_inpatient.total > ZERO


# --------------------------------------------------------------------------------------------
# §4 relief on application
# --------------------------------------------------------------------------------------------


def household(*members):
    return [HouseholdMemberIn(role, who, tuple(bills)) for role, who, bills in members]


def test_s4_1_beijing_bands_and_cap():
    patient = person("illness_poverty_patient", since="2024-02-01")
    app = ApplicationIn(d("2024-03-01"))
    result = assess_application(spec("beijing-2023"), app, household(("patient", patient, [bill("80000.00")])))
    assert (result.relief, result.burden, result.scheme) == (D("32000.00"), D("80000.00"),
                                                             "illness_poverty_household")
    assert [(b.lower, b.upper, b.rate, b.amount) for b in result.bands] == [
        (ZERO, D("30000.00"), D("0.30"), D("9000.00")),
        (D("30000.00"), D("50000.00"), D("0.40"), D("8000.00")),
        (D("50000.00"), None, D("0.50"), D("15000.00"))]
    big = assess_application(spec("beijing-2023"), app, household(("patient", patient, [bill("400000.00")])))
    assert (big.raw, big.relief, big.reasons) == (D("192000.00"), D("150000.00"), ("capped",))
    assert "京医保发〔2022〕37号 六(三)" in big.clauses


def test_s4_1_bands_at_the_boundaries():
    patient = person("illness_poverty_patient", since="2024-02-01")
    app = ApplicationIn(d("2024-03-01"))
    for burden, relief in [("30000.00", "9000.00"), ("50000.00", "17000.00"), ("0.01", "0.00")]:
        result = assess_application(spec("beijing-2023"), app, household(("patient", patient, [bill(burden)])))
        assert result.relief == D(relief), burden


def test_s4_1_one_application_per_household_year():
    patient = person("illness_poverty_patient", since="2024-02-01")
    again = ApplicationIn(d("2024-09-01"), previous_application_same_year=True)
    result = assess_application(spec("beijing-2023"), again, household(("patient", patient, [bill("80000.00")])))
    assert result.relief == ZERO and result.reasons == ("already_applied_this_year",)


def test_s4_1_previous_calendar_year_of_household_at_designated_institutions():
    patient = person("illness_poverty_patient", since="2024-02-01")
    members = household(
        ("patient", patient, [bill("10000.00", id="p1", start="2023-12-31"),
                              bill("10000.00", id="p2", start="2024-01-01"),
                              bill("10000.00", id="p3", start="2022-12-31")]),
        ("member", person(), [bill("20000.00", id="m1", start="2023-01-01", other="5000.00"),
                              bill("9000.00", id="m2", start="2023-06-01", designated=False)]),
    )
    result = assess_application(spec("beijing-2023"), ApplicationIn(d("2024-03-01")), members)
    assert result.counted_bill_ids == ("p1", "m1")
    assert result.burden == D("30000.00") and result.relief == D("9000.00")


def test_s4_1_patient_must_be_certified_on_the_application_date():
    patient = person("illness_poverty_patient", since="2024-04-01")
    result = assess_application(spec("beijing-2023"), ApplicationIn(d("2024-03-01")),
                                household(("patient", patient, [bill("80000.00")])))
    assert result.relief == ZERO and result.reasons == ("not_eligible",)


def test_s4_2_ningbo_retroactive_12_months():
    patient = person("illness_poverty_patient", since="2024-06-15")
    bills = [bill("20000.00", id="in", start="2023-06-16"),       # first day of the window
             bill("10000.00", id="edge", start="2023-06-15"),     # 12 months before to the day: outside
             bill("5000.00", id="out", visit="outpatient", start="2024-01-01"),
             bill("5000.00", id="major", visit="outpatient", start="2024-01-01", major_disease=True),
             bill("5000.00", id="on", start="2024-06-15"),             # the application day: per bill only (§9)
             bill("5000.00", id="after", start="2024-06-16")]
    result = assess_application(spec("ningbo-2019"), ApplicationIn(d("2024-06-15")),
                                household(("patient", patient, bills)))
    assert result.counted_bill_ids == ("in", "major")
    assert (result.burden, result.relief) == (D("25000.00"), D("15000.00"))


def test_s4_2_ningbo_retroactive_within_annual_80000_bucket():
    patient = person("illness_poverty_patient", since="2024-06-15")
    app = ApplicationIn(d("2024-06-15"), annual_bucket_used=D("70000.00"))
    result = assess_application(spec("ningbo-2019"), app, household(("patient", patient, [bill("30000.00",
                                                                                               start="2024-01-10")])))
    assert (result.raw, result.relief, result.reasons) == (D("18000.00"), D("10000.00"), ("cap_limited",))
    assert result.bucket.room_before == D("10000.00") and result.bucket.room_after == ZERO


# --------------------------------------------------------------------------------------------
# §5 premium subsidy
# --------------------------------------------------------------------------------------------


def test_s5_premium_subsidy_highest_wins():
    on = d("2024-01-01")
    both = person("monitored_rural", "minimum_living")
    result = premium_subsidy(spec("dongzhi-2022"), both, on, D("380.00"))
    assert (result.category, result.kind, result.share, result.amount) == (
        "minimum_living", "fraction", D("0.90"), D("342.00"))
    full = premium_subsidy(spec("dongzhi-2022"), person("minimum_living", "extreme_poverty"), on, D("380.00"))
    assert (full.category, full.kind, full.amount) == ("extreme_poverty", "full", D("380.00"))
    # a full subsidy beats a 100% fixed one (Wuxi), whatever the certification order
    wx = premium_subsidy(spec("wuxi-2023"), person("marginal_family", "minimum_living"), on, D("380.00"))
    assert (wx.category, wx.kind, wx.amount) == ("minimum_living", "full", D("380.00"))


@pytest.mark.parametrize("code, category, kind, share", [
    ("wuxi-2023", "orphan", "full", "1"), ("wuxi-2023", "severe_disability", "fraction", "1.00"),
    ("ningbo-2019", "severe_disability", "full", "1"), ("ningbo-2019", "marginal_family", "fraction", "0.50"),
    ("dongzhi-2022", "extreme_poverty", "full", "1"), ("dongzhi-2022", "returned_to_poverty", "fraction", "0.80"),
    ("dongzhi-2022", "monitored_rural", "fraction", "0.50"), ("national-2021", "extreme_poverty", "full", "1"),
])
def test_s5_premium_subsidy_shares(code, category, kind, share):
    result = premium_subsidy(spec(code), person(category), d("2024-01-01"), D("400.00"))
    assert (result.kind, result.share, result.amount) == (kind, D(share), (D("400.00") * D(share)).quantize(D("0.01")))


def test_s5_beijing_has_no_preset_amounts_and_no_contribution_gives_no_amount():
    bj = premium_subsidy(spec("beijing-2023"), person("extreme_poverty"), d("2024-01-01"), D("380.00"))
    assert (bj.kind, bj.share, bj.amount) == (None, ZERO, ZERO)
    none = premium_subsidy(spec("dongzhi-2022"), person("extreme_poverty"), d("2024-01-01"), None)
    assert none.kind == "full" and none.amount is None
    expired = premium_subsidy(spec("dongzhi-2022"), person("extreme_poverty", until="2023-12-31"),
                              d("2024-01-01"), D("380.00"))
    assert expired.kind is None


def test_s5_ningbo_timing_next_month_or_next_year():
    covered = subsidy_timing(spec("ningbo-2019"), d("2024-03-15"), already_paid_this_year=False)
    paid = subsidy_timing(spec("ningbo-2019"), d("2024-03-15"), already_paid_this_year=True)
    december = subsidy_timing(spec("ningbo-2019"), d("2024-12-15"), already_paid_this_year=False)
    assert (covered.subsidised_year, covered.covered_from) == (2024, d("2024-04-01"))
    assert (paid.subsidised_year, paid.covered_from) == (2025, d("2025-01-01"))
    # 当月资助参保，次月生效: a December approval is next year's contribution, subsidised once
    assert (december.subsidised_year, december.covered_from) == (2025, d("2025-01-01"))
    assert subsidy_timing(spec("wuxi-2023"), d("2024-03-15"), False).covered_from == d("2024-03-15")


# --------------------------------------------------------------------------------------------
# §6 early warning
# --------------------------------------------------------------------------------------------


def test_s6_warning_thresholds():
    bj = spec("beijing-2023")
    assert warning_kind(bj, set(), D("25000.01"), STATS, 2023) == ("illness_poverty", D("25000.00"),
                                                                   bj.warnings[1].clause)
    assert warning_kind(bj, set(), D("25000.00"), STATS, 2023).kind is None  # must exceed
    assert warning_kind(bj, {"marginal_family"}, D("12500.01"), STATS, 2023).kind == "return_to_poverty"
    assert warning_kind(bj, {"monitored_rural"}, D("12500.00"), STATS, 2023).kind is None
    # other beneficiaries are neither
    assert warning_kind(bj, {"minimum_living"}, D("99999.00"), STATS, 2023).kind is None
    # thresholds use the previous year's statistic
    assert warning_kind(bj, set(), D("1.00"), STATS, 2024).threshold == D("26000.00")


def test_s6_warning_missing_statistic_raises():
    with pytest.raises(MissingStatisticError):
        warning_kind(spec("wuxi-2023"), set(), D("1.00"), STATS, 2022)


# --------------------------------------------------------------------------------------------
# Rules are data: an administrator's edit changes behaviour with no code change
# --------------------------------------------------------------------------------------------


def test_rules_are_data_coverage_cap_rate_and_referral():
    who = person("minimum_living", since="2023-01-01", until="2023-04-10")
    late = bill("10000.00", visit="outpatient", start="2023-04-20")

    def month_end(data):
        data["coverage"]["ends"] = "end_of_month"

    def cap_and_rate(data):
        data["tiers"][2]["buckets"]["outpatient"]["cap"] = "5000.00"
        data["tiers"][2]["visit_classes"]["outpatient"]["rate"] = "0.90"

    def wuxi_referral(data):
        data["requirements"]["referral"]["required"] = True

    def national_outpatient(data):
        data["visit_classes"][0]["class"] = "inpatient"

    assert assess_bill(edited("beijing-2023", month_end), who, late, YearState(2023)).assistance == D("8000.00")
    edited_bj = edited("beijing-2023", cap_and_rate)
    assert assess_bill(edited_bj, person("minimum_living"), late, YearState(2023)).assistance == D("5000.00")
    small = bill("1000.00", visit="outpatient")
    assert assess_bill(edited_bj, person("minimum_living"), small, YearState(2023)).assistance == D("900.00")
    unreferred = bill("1000.00", referral_compliant=False)
    assert assess_bill(edited("wuxi-2023", wuxi_referral), person("minimum_living"), unreferred,
                       YearState(2023)).reasons == ("unreferred",)
    assert assess_bill(edited("national-2021", national_outpatient), person("minimum_living"),
                       bill("1000.00", visit="outpatient"), YearState(2023), STATS).assistance == D("700.00")


def test_rules_are_data_tilted_threshold_and_category_mapping():
    def tilt(data):
        data["tilted"]["threshold"] = "1000.00"
        data["tilted"]["rate"] = "0.50"
        data["category_tiers"]["marginal_family"]["tier"] = "WX-85"

    result = assess_bill(edited("wuxi-2023", tilt), person("marginal_family"), bill("10000.00"), YearState(2023))
    assert (result.tier, result.assistance, result.tilted) == ("WX-85", D("8500.00"), D("250.00"))


def test_bill_flags_default_as_documented():
    assert Flags() == Flags(designated=True, referral_compliant=True, in_province=True, major_disease=False,
                            rare_disease=False, good_samaritan_injury=False)


def test_state_year_must_match_the_bill():
    with pytest.raises(ValueError):
        assess_bill(spec("beijing-2023"), person("minimum_living"), bill("1.00"), YearState(2024))

