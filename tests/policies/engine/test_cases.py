"""Every worked scenario the project carries (``policies/scenarios/*.yaml``) runs through the real
engine (POLICY.md §8); a new file there is picked up with no code change.

The suite reads nothing outside the repository: a worked scenario from elsewhere is copied in by
``scripts/import_cases.py FOLDER``, and ``scripts/import_cases.py FOLDER --check`` (run by
``.ci/run``, not by the tests) says whether the project carries each one with the same figures.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from policies.engine import load_preset, load_scenario, run_scenario
from policies.scenario_files import project_scenarios, read_scenario

PROJECT = project_scenarios()


def compare(expect: dict, results: dict) -> list[str]:
    """Every expected field equal as text; ``reasons``: every listed code present (a subset)."""
    problems = []
    for key, want in expect.items():
        got = results.get(key, {})
        for field, value in want.items():
            if field == "reasons":
                missing = set(value) - set(got.get("reasons", []))
                if missing:
                    problems.append(f"{key}.reasons lacks {sorted(missing)} (got {got.get('reasons')})")
            elif str(got.get(field)) != str(value):
                problems.append(f"{key}.{field} = {got.get(field)!r}, expected {value!r}")
    return problems


def test_the_project_carries_its_own_scenarios():
    """POLICY.md §8 on a lone clone: the scenarios live in the repository, not beside it."""
    assert len(PROJECT) >= 39, [p.name for p in PROJECT]
    root = Path(__file__).resolve().parents[3]
    assert all(root in p.parents for p in PROJECT)
    names = [read_scenario(p)["name"] for p in PROJECT]
    assert len(names) == len(set(names)), "two scenarios share a name"
    assert all(p.stem == read_scenario(p)["name"] for p in PROJECT), "file name = scenario name"


@pytest.mark.parametrize("path", PROJECT, ids=[p.stem for p in PROJECT])
def test_project_scenario_names_its_clause_and_why(path: Path):
    data = read_scenario(path)
    assert isinstance(data.get("clause"), str) and data["clause"].strip(), "clause: the rule it rests on"
    assert isinstance(data.get("note"), str) and data["note"].strip(), "note: how the figures are worked"


@pytest.mark.parametrize("path", PROJECT, ids=[p.stem for p in PROJECT])
def test_case(path: Path):
    data = read_scenario(path)
    scenario = load_scenario(data)
    results = run_scenario(load_preset(scenario.policy), scenario)
    json.dumps(results)  # the assess command prints it
    assert data.get("expect"), "a scenario must expect something"
    assert compare(data["expect"], results) == [], data.get("note", "")
    for key, result in results.items():
        assert "explanation" in result and result["explanation"]["lines"], key


def test_yaml_keeps_amounts_and_dates_as_written(tmp_path):
    """0.1 + 0.2 never happens: 987.648 stays the text '987.648' (then Decimal), a date stays text."""
    path = tmp_path / "x.yaml"
    path.write_text("a: 987.648\nb: 2023-02-01\nc: 2\nd: true\ne: null\nf: '0.10'\n", encoding="utf-8")
    assert read_scenario(path) == {"a": "987.648", "b": "2023-02-01", "c": 2, "d": True, "e": None, "f": "0.10"}
