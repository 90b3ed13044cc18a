"""Every scenario the project carries (policies/scenarios/*.yaml) through ``manage.py assess``
(new files are picked up).

Compared field by field: each expected field equal as text, ``reasons``: every listed code present.
"""
import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from policies.models import Policy
from policies.scenario_files import project_scenarios, read_scenario

pytestmark = pytest.mark.django_db

CASES = project_scenarios()


def _assess(*paths) -> list[dict]:
    out = StringIO()
    call_command("assess", *[str(p) for p in paths], stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_cases_directory_is_not_empty():
    assert CASES, f"no scenario files in {settings.SCENARIOS_DIR}"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_scenario_matches(path):
    scenario = read_scenario(path)
    [printed] = _assess(path)
    assert printed["name"] == read_scenario(path).get("name", path.stem)
    results = printed["results"]
    problems = []
    for key, want in scenario.get("expect", {}).items():
        got = results.get(key, {})
        assert "explanation" in got or "error" in want, f"{key} has no explanation"
        for field, value in want.items():
            if field == "reasons":
                missing = set(value) - set(got.get("reasons", []))
                if missing:
                    problems.append(f"{key}.reasons lacks {sorted(missing)}")
            elif str(got.get(field)) != str(value):
                problems.append(f"{key}.{field} = {got.get(field)!r}, expected {value!r}")
    assert not problems, f"{path.name}: " + "; ".join(problems) + f"\nnote: {scenario.get('note', '')}"


def test_several_files_print_one_object_per_line():
    printed = _assess(*CASES[:3])
    assert [p["name"] for p in printed] == [read_scenario(p)["name"] for p in CASES[:3]]


def _bad(tmp_path, data, name="bad.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_invalid_scenario_exits_2_naming_file_and_field(tmp_path):
    path = _bad(tmp_path, {"policy": "beijing-2023", "person": {}, "bills": [
        {"id": "b1", "visit_type": "hospital", "start": "2023-01-01", "end": "2023-01-02"}]})
    with pytest.raises(CommandError) as exc:
        _assess(path)
    assert exc.value.returncode == 2
    assert str(path) in str(exc.value) and "bills[0].visit_type" in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("data, field", [
    ("{not json", "(file)"),
    ({"person": {}, "bills": []}, "policy"),
    ({"policy": "atlantis-2023", "person": {}, "bills": []}, "policy"),
    ({"policy": "beijing-2023", "person": {"certifications": [{"category": "king", "valid_from": "2023-01-01"}]},
      "bills": []}, "person.certifications[0].category"),
    ({"policy": "beijing-2023", "person": {}, "bills": [{"id": "b1", "visit_type": "inpatient", "start": "2023-13-01",
      "end": "2023-01-02"}]}, "bills[0].start"),
])
def test_invalid_scenarios_name_the_field(tmp_path, data, field):
    with pytest.raises(CommandError) as exc:
        _assess(_bad(tmp_path, data))
    assert exc.value.returncode == 2
    assert f"field {field}:" in str(exc.value)


def test_valid_files_still_print_when_one_is_invalid(tmp_path):
    out, err = StringIO(), StringIO()
    bad1, bad2 = _bad(tmp_path, "{", "a.json"), _bad(tmp_path, "[]", "b.json")
    with pytest.raises(CommandError) as exc:
        call_command("assess", str(bad1), str(CASES[0]), str(bad2), stdout=out, stderr=err)
    assert exc.value.returncode == 2
    assert len(out.getvalue().splitlines()) == 1
    assert "a.json" in err.getvalue() and "b.json" in str(exc.value)


def test_assess_uses_the_rules_stored_in_the_database(beijing, administrator):
    """An administrator's edit changes what assess computes (the same rules, one source)."""
    import copy

    from policies.services import policy_revise

    path = Path(settings.SCENARIOS_DIR) / "bj-t3-inpatient.yaml"
    rules = copy.deepcopy(beijing.rules)
    for tier in rules["tiers"]:
        if tier["code"] == "BJ-3":
            tier["visit_classes"]["inpatient"]["rate"] = "0.50"
    policy_revise(policy=beijing, rules=rules, effective_from=beijing.effective_from, note="测试", by=administrator)
    [printed] = _assess(path)
    assert printed["results"]["b1"]["assistance"] == "10000.00"
    assert printed["policy"]["version"] == 2


def test_assess_writes_nothing():
    before = list(Policy.objects.values_list("pk", "updated_at"))
    _assess(*CASES)
    assert list(Policy.objects.values_list("pk", "updated_at")) == before


def test_invalid_yaml_names_the_file_and_position(tmp_path):
    path = _bad(tmp_path, "policy: [beijing-2023\n", "broken.yaml")
    with pytest.raises(CommandError) as exc:
        _assess(path)
    assert exc.value.returncode == 2
    assert "broken.yaml: field (file): is not valid YAML" in str(exc.value) and "line" in str(exc.value)
