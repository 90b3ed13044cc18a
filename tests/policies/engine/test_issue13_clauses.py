"""Rules of POLICY.md §9 (decisions of 2026-12, issue 13), one test per clause, named after it."""
from __future__ import annotations

from datetime import date

import pytest
from engine_builders import STATS, D, bill, edited, person, spec

from policies.engine import PersonIn, YearState, assess_bill, assess_bills
from policies.engine.types import CertificationIn, PolicyError

ZERO = D("0.00")


def one(code_or_spec, who, b, stats=None, state=None):
    policy = spec(code_or_spec) if isinstance(code_or_spec, str) else code_or_spec
    state = state or YearState(b.end.year)
    return assess_bill(policy, who, b, state, stats or {}), state


# 国办发〔2021〕42号 四(五): several identities, one missing statistic -----------------------------

@pytest.mark.parametrize("code", ["national-2021", "dongzhi-2022"])
def test_guoban_4_5_identity_needing_missing_statistic_is_set_aside(code):
    who = person("minimum_living", "marginal_family")
    result, state = one(code, who, bill("10000.00"), {})  # no per-capita income recorded
    assert result.error is None
    assert (result.total, result.tier, result.category) == (D("7000.00"), f"{'NT' if code[0] == 'n' else 'DZ'}-1",
                                                            "minimum_living")
    assert "identity_set_aside" in result.reasons
    assert state.bucket_used == {"annual": D("7000.00")}


def test_guoban_4_5_missing_statistic_only_when_no_identity_can_be_computed():
    who = person("marginal_family", "illness_poverty_patient")  # both need the statistic
    result, state = one("national-2021", who, bill("10000.00"), {})
    assert result.error == "missing_statistic"
    assert state == YearState(2023)
    # with the statistic both compute and the higher (NT-2, 10% deductible, 65%) is paid
    ok, _ = one("national-2021", who, bill("10000.00"), STATS)
    assert (ok.tier, ok.deductible, ok.assistance) == ("NT-2", D("5000.00"), D("3250.00"))
    assert "identity_set_aside" not in ok.reasons


def test_guoban_4_5_set_aside_identity_even_when_it_would_be_listed_first():
    who = PersonIn((CertificationIn("marginal_family", date(2023, 1, 1)),
                    CertificationIn("returned_to_poverty", date(2023, 1, 1))))
    result, _ = one("national-2021", who, bill("10000.00"), {})
    assert (result.error, result.category, result.assistance) == (None, "returned_to_poverty", D("7000.00"))


# 京 六(一)3、六(二)3; 甬 三(二)1: caps across identities count only tiers carrying the cap -----------

def test_jing_6_1_3_and_6_2_3_cap_room_counts_only_payments_under_capped_tiers():
    who = PersonIn((CertificationIn("extreme_poverty", date(2023, 1, 1),
                                    date(2023, 6, 30)),
                    CertificationIn("minimum_living", date(2023, 7, 1))))
    bills = [bill("9000.00", id="o1", visit="outpatient", start="2023-02-01"),
             bill("200000.00", id="b1", start="2023-03-01", end="2023-03-20"),
             bill("1000.00", id="o2", visit="outpatient", start="2023-08-01"),
             bill("20000.00", id="b2", start="2023-09-01", end="2023-09-10")]
    states: dict[int, YearState] = {}
    results = assess_bills(spec("beijing-2023"), who, bills, states)
    assert [(r.tier, r.assistance) for r in results] == [
        ("BJ-1", D("9000.00")), ("BJ-1", D("200000.00")), ("BJ-3", D("800.00")), ("BJ-3", D("17000.00"))]
    assert results[3].buckets[0].room_before == D("160000.00")
    assert states[2023].bucket_used == {"outpatient": D("800.00"), "inpatient": D("17000.00")}
    # the explanation says which tier's payments counted, citing the rule's clause
    line = next(x for x in results[3].lines if x.key == "bucket:inpatient")
    assert "只计入 BJ-3 档次下的支付" in line.value
    assert "六(一)3、六(二)3" in line.clause


def test_jing_6_cap_rule_is_a_policy_parameter_all_tiers_counts_uncapped_payments():
    def count_all(data):
        data["caps"] = {"count": "all_tiers", "clause": "test: all tiers"}

    policy = edited("beijing-2023", count_all)
    who = PersonIn((CertificationIn("extreme_poverty", date(2023, 1, 1),
                                    date(2023, 6, 30)),
                    CertificationIn("minimum_living", date(2023, 7, 1))))
    bills = [bill("200000.00", id="b1", start="2023-03-01"), bill("20000.00", id="b2", start="2023-09-01")]
    results = assess_bills(policy, who, bills)
    assert results[1].assistance == ZERO and "cap_exhausted" in results[1].reasons


def test_caps_rule_is_validated_and_round_trips():
    with pytest.raises(PolicyError) as err:
        edited("beijing-2023", lambda data: data.__setitem__("caps", {"count": "some", "clause": "x"}))
    assert err.value.field == "caps.count"
    for code in ("beijing-2023", "wuxi-2023", "ningbo-2019", "national-2021", "dongzhi-2022"):
        policy = spec(code)
        assert policy.caps.count == "capped_tiers"  # one rule for every preset
        assert type(policy).from_dict(policy.to_dict()) == policy


def test_yong_3_2_1_ningbo_cat1_inpatient_does_not_use_up_the_80000_of_cat2():
    who = PersonIn((CertificationIn("extreme_poverty", date(2020, 1, 1),
                                    date(2020, 5, 31)),
                    CertificationIn("minimum_living", date(2020, 6, 1))))
    bills = [bill("100000.00", id="b1", start="2020-03-01"), bill("10000.00", id="b2", start="2020-08-01")]
    results = assess_bills(spec("ningbo-2019"), who, bills)
    assert [(r.tier, r.total) for r in results] == [("NB-1", D("100000.00")), ("NB-70", D("7000.00"))]


# 甬 三(二)1、三(二)3: childbirth and rehabilitation are hospital stays, special items never both ------

def test_yong_3_2_3_childbirth_of_a_non_minimum_living_mother_is_an_ordinary_stay():
    for category, tier, total in [("marginal_family", "NB-70", "2100.00"), ("extreme_poverty", "NB-1", "3000.00")]:
        result, _ = one("ningbo-2019", person(category), bill("3000.00", visit="maternity", start="2020-05-01"))
        assert (result.tier, result.assistance, result.special, result.total) == (tier, D(total), ZERO, D(total))


def test_yong_3_2_3_rehabilitation_without_grade_1_2_disability_is_an_ordinary_stay():
    result, state = one("ningbo-2019", person("minimum_living"), bill("10000.00", visit="rehabilitation",
                                                                       start="2020-03-01"))
    assert (result.tier, result.assistance, result.special) == ("NB-70", D("7000.00"), ZERO)
    assert state.bucket_used == {"annual": D("7000.00")}


def test_yong_3_2_3_special_item_and_regular_assistance_never_both():
    result, _ = one("ningbo-2019", person("minimum_living"), bill("2000.00", visit="maternity", start="2020-05-01"))
    assert (result.assistance, result.special) == (ZERO, D("900.00"))
    assert result.total <= result.burden
    assert "special_instead" in result.reasons


def test_special_item_combine_higher_pays_the_larger_never_both():
    def higher(data):
        for item in data["special_items"]:
            if item["code"] in ("maternity_grant", "rehabilitation"):
                item["combine"] = "higher"

    policy = edited("ningbo-2019", higher)
    big, _ = one(policy, person("minimum_living"), bill("2000.00", visit="maternity", start="2020-05-01"))
    assert (big.assistance, big.special, "regular_higher" in big.reasons) == (D("1400.00"), ZERO, True)
    small, state = one(policy, person("minimum_living"), bill("1000.00", visit="maternity", start="2020-05-01"))
    assert (small.assistance, small.special, "special_higher" in small.reasons) == (ZERO, D("900.00"), True)
    assert state.bucket_used.get("annual", ZERO) == ZERO  # the regular figure was not paid: nothing drawn
    # 特困 (100%): the regular assistance is already the whole burden; the result never exceeds it
    full, _ = one(policy, person("extreme_poverty", grade=1), bill("1000.00", visit="rehabilitation",
                                                                 start="2020-05-01"))
    assert (full.assistance, full.special, full.total) == (D("1000.00"), ZERO, D("1000.00"))


def test_special_item_exclusive_legacy_field_reads_as_instead():
    def legacy(data):
        item = data["special_items"][-1]
        del item["combine"]
        item["exclusive"] = True

    assert edited("ningbo-2019", legacy).special_items[-1].combine == "instead"
    with pytest.raises(PolicyError):
        edited("ningbo-2019", lambda data: data["special_items"][-1].update(exclusive=False))


# 甬 二(一) 特困供养人员（含散居孤儿）: orphans are category 1 --------------------------------------

def test_yong_2_1_orphan_is_category_1():
    inpatient, _ = one("ningbo-2019", person("orphan"), bill("10000.00", start="2020-03-01"))
    outpatient, _ = one("ningbo-2019", person("orphan"), bill("1000.00", visit="outpatient", start="2020-04-01"))
    assert (inpatient.tier, inpatient.total) == ("NB-1", D("10000.00"))
    assert (outpatient.tier, outpatient.total) == ("NB-1", D("500.00"))


# Dongzhi's preset is a template ---------------------------------------------------------------

def test_dongzhi_preset_is_a_template_needing_confirmation():
    assert spec("dongzhi-2022").needs_confirmation is True
    assert spec("national-2021").needs_confirmation is True


# Relief on application in every region (国办 五(八), 锡 五(十), Dongzhi as national) ------------

from policies.engine import ApplicationIn, HouseholdMemberIn, assess_application  # noqa: E402


def _apply(code, category, since, bills, on="2023-09-01", stats=None, **edit):
    patient = HouseholdMemberIn("patient", person(category, since=since), tuple(bills))
    policy = spec(code) if not edit else edited(code, edit["edit"])
    return assess_application(policy, ApplicationIn(date.fromisoformat(on)), [patient], stats or {})


def test_wuxi_5_10_on_application_assessed_per_bill_under_the_region_tier():
    bills = [bill("10000.00", id="b1", start="2023-05-01"), bill("2000.00", id="o1", visit="outpatient",
                                                                 start="2023-06-01"),
             bill("5000.00", id="old", start="2023-01-10")]  # before the certification: not counted
    result = _apply("wuxi-2023", "expenditure_hardship_patient", "2023-03-01", bills)
    assert result.scheme == "on_application"
    assert result.relief == D("8400.00")  # WX-70: 10000 × 70% + 2000 × 70%
    assert sorted(result.counted_bill_ids) == ["b1", "o1"]
    assert any(line.key == "per_bill:b1" and "WX-70" in line.label_zh for line in result.lines)


def test_guoban_5_8_on_application_marginal_family_with_deductible():
    # NT-2: deductible 10% × 50000 = 5000, then 65%: (20000 − 5000) × 65% = 9750
    result = _apply("national-2021", "marginal_family", "2023-01-01", [bill("20000.00", start="2023-04-01")],
                    stats=STATS)
    assert (result.relief, result.burden) == (D("9750.00"), D("20000.00"))
    missing = _apply("national-2021", "marginal_family", "2023-01-01", [bill("20000.00", start="2023-04-01")])
    assert missing.relief == ZERO and "missing_statistic" in missing.reasons


def test_dongzhi_on_application_as_national():
    result = _apply("dongzhi-2022", "illness_poverty_patient", "2023-01-01", [bill("20000.00", start="2023-04-01")],
                    stats=STATS)
    # DZ-3: 25% × 50000 = 12500 deductible; 7500 × 60% = 4500
    assert (result.scheme, result.relief) == ("on_application", D("4500.00"))


def test_on_application_counts_what_is_left_after_earlier_payments():
    paid = bill("10000.00", start="2023-05-01", other="7000.00")  # 7000 already paid of a 17000 burden
    result = _apply("wuxi-2023", "temporary_relief_patient", "2023-03-01", [paid])
    assert result.relief == D("7000.00")


def test_region_without_on_application_scheme_says_so():
    result = _apply("wuxi-2023", "expenditure_hardship_patient", "2023-03-01", [bill()],
                    edit=lambda data: data.__setitem__("application_schemes", []))
    assert result.reasons == ("no_scheme",) and result.relief == ZERO
