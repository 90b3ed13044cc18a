"""Every worked scenario in shared/cases runs through the real engine (POLICY.md §8).

A new ``*.json`` file is picked up with no code change; CASES_DIR overrides the folder.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from policies.engine import load_preset, load_scenario, run_scenario

CASES_DIR = Path(os.environ.get("CASES_DIR") or Path(__file__).resolve().parents[3].parent / "shared" / "cases")
CASE_FILES = sorted(CASES_DIR.glob("*.json"))


def test_cases_folder_has_scenarios():
    assert CASE_FILES, f"no scenarios found in {CASES_DIR}"


def compare(expect: dict, results: dict) -> list[str]:
    """The comparison of shared/tools/check_cases.py: every expected field, reasons as a subset."""
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


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case(path: Path):
    data = json.loads(path.read_text(encoding="utf-8"))
    scenario = load_scenario(data)
    results = run_scenario(load_preset(scenario.policy), scenario)
    json.dumps(results)  # the assess command prints it
    assert data.get("expect"), "a scenario must expect something"
    assert compare(data["expect"], results) == []
    for key, result in results.items():
        assert "explanation" in result and result["explanation"]["lines"], key
