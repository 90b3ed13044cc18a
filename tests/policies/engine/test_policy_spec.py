"""PolicySpec as data: presets round-trip; bad data is rejected naming the field."""
from __future__ import annotations

import copy
import json

import pytest

from policies.engine import PRESETS, PolicyError, PolicySpec, load_preset

EXPECTED_PRESETS = {"beijing-2023", "wuxi-2023", "ningbo-2019", "national-2021", "dongzhi-2022"}


def test_every_seed_has_a_preset():
    assert set(PRESETS) == EXPECTED_PRESETS


@pytest.mark.parametrize("code", sorted(EXPECTED_PRESETS))
def test_preset_round_trips(code):
    data = PRESETS[code]
    spec = PolicySpec.from_dict(data)
    assert spec.to_dict() == data
    again = PolicySpec.from_dict(json.loads(json.dumps(spec.to_dict(), ensure_ascii=False)))
    assert again == spec
    assert load_preset(code) == spec


@pytest.mark.parametrize("code", sorted(EXPECTED_PRESETS))
def test_every_rule_names_its_clause(code):
    def walk(node, path):
        if isinstance(node, dict):
            if "clause" in node:
                assert isinstance(node["clause"], str) and node["clause"].strip(), path
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")

    walk(PRESETS[code], code)
    spec = load_preset(code)
    for tier in spec.tiers:
        assert tier.clause and tier.deductible.clause
        assert all(c.clause for c in tier.visit_classes) and all(b.clause for b in tier.buckets)


def test_needs_confirmation_flags():
    assert load_preset("national-2021").needs_confirmation is True
    assert load_preset("beijing-2023").needs_confirmation is False


def _set(path, value):
    def edit(data):
        node = data
        keys = path.split("/")
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        last = keys[-1]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return edit


_DELETE = object()


@pytest.mark.parametrize("code, path, value, field", [
    ("beijing-2023", "tiers/2/visit_classes/outpatient/rate", "1.5", "tiers[2].visit_classes.outpatient.rate"),
    ("beijing-2023", "tiers/2/visit_classes/outpatient/rate", "abc", "tiers[2].visit_classes.outpatient.rate"),
    ("beijing-2023", "tiers/2/buckets/outpatient/cap", "-1", "tiers[2].buckets.outpatient.cap"),
    ("beijing-2023", "tiers/2/visit_classes/outpatient/draws", ["nope"], "tiers[2].visit_classes.outpatient.draws[0]"),
    ("beijing-2023", "tiers/0/clause", "", "tiers[0].clause"),
    ("beijing-2023", "tiers/0/clause", _DELETE, "tiers[0].clause"),
    ("beijing-2023", "coverage/ends", "next_week", "coverage.ends"),
    ("beijing-2023", "category_tiers/minimum_living/tier", "BJ-9", "category_tiers.minimum_living.tier"),
    ("beijing-2023", "category_tiers/martian", {"tier": "BJ-1", "clause": "x"}, "category_tiers.martian"),
    ("beijing-2023", "visit_classes/0/visit_type", "dental", "visit_classes[0].visit_type"),
    ("beijing-2023", "visit_classes/0/when", {"lucky": True}, "visit_classes[0].when.lucky"),
    ("beijing-2023", "effective_from", "2023-13-01", "effective_from"),
    ("beijing-2023", "effective_to", "2020-01-01", "effective_to"),
    ("beijing-2023", "requirements/referral/required", "yes", "requirements.referral.required"),
    ("beijing-2023", "application_schemes/0/bands/1/upper", "20000.00", "application_schemes[0].bands[1].upper"),
    ("beijing-2023", "application_schemes/0/bands/0/upper", None, "application_schemes[0].bands[0].upper"),
    ("beijing-2023", "application_schemes/0/window", {"kind": "months_before", "months": None},
     "application_schemes[0].window.months"),
    ("beijing-2023", "surprise", 1, "surprise"),
    ("wuxi-2023", "tilted/rate", "0.6.0", "tilted.rate"),
    ("wuxi-2023", "premium_subsidies/rules/0/share", "0.50", "premium_subsidies.rules[0].share"),
    ("ningbo-2019", "special_items/0/amount", None, "special_items[0].amount"),
    ("ningbo-2019", "special_items/1/disability_grades", [7], "special_items[1].disability_grades[0]"),
    ("national-2021", "tiers/1/deductible/statistic", "gdp", "tiers[1].deductible.statistic"),
    ("national-2021", "warnings/0/kind", "panic", "warnings[0].kind"),
])
def test_from_dict_rejects_bad_data_naming_the_field(code, path, value, field):
    data = copy.deepcopy(PRESETS[code])
    _set(path, value)(data)
    with pytest.raises(PolicyError) as caught:
        PolicySpec.from_dict(data)
    assert caught.value.field == field
    assert caught.value.message


def test_from_dict_rejects_a_duplicate_tier_and_a_non_object():
    data = copy.deepcopy(PRESETS["beijing-2023"])
    data["tiers"].append(copy.deepcopy(data["tiers"][0]))
    with pytest.raises(PolicyError) as caught:
        PolicySpec.from_dict(data)
    assert caught.value.field == "tiers[3].code"
    with pytest.raises(PolicyError):
        PolicySpec.from_dict([])  # type: ignore[arg-type]


def test_from_dict_reads_numbers_an_admin_typed_as_json_numbers():
    data = copy.deepcopy(PRESETS["beijing-2023"])
    data["tiers"][2]["buckets"]["outpatient"]["cap"] = 9000
    data["tiers"][2]["visit_classes"]["outpatient"]["rate"] = 0.75
    spec = PolicySpec.from_dict(data)
    assert str(spec.tiers[2].visit_classes[0].rate) == "0.75"
    assert spec.to_dict()["tiers"][2]["buckets"]["outpatient"]["cap"] == "9000"
