"""Scenario files: the project's own YAML scenarios (``policies/scenarios/*.yaml``) and the JSON of
an external folder of worked cases, which ``scripts/import_cases.py`` copies in.

Both hold the same object (format: ``policies/scenarios/README.md``). YAML is read with a loader
that keeps dates and decimal numbers **as text** (``2023-02-01``, ``17000.00``): amounts become
``Decimal`` in the engine exactly as written, never through a binary float, and dates are parsed
by the scenario loader, which names the field when one is wrong. ``true``/``false``, ``null`` and
whole numbers (a disability grade) keep their YAML meaning.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

SUFFIXES = (".yaml", ".yml", ".json")
_TEXT_TAGS = ("tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")


def _without_text_tags(resolvers: dict) -> dict:
    return {first: [(tag, regexp) for tag, regexp in entries if tag not in _TEXT_TAGS]
            for first, entries in resolvers.items()}


class ScenarioLoader(yaml.SafeLoader):
    """Safe YAML; floats and timestamps stay strings."""


class ScenarioDumper(yaml.SafeDumper):
    """Writes what :class:`ScenarioLoader` reads back unchanged (so amounts need no quotes)."""


ScenarioLoader.yaml_implicit_resolvers = _without_text_tags(yaml.SafeLoader.yaml_implicit_resolvers)
ScenarioDumper.yaml_implicit_resolvers = _without_text_tags(yaml.SafeDumper.yaml_implicit_resolvers)


def read_scenario(path: Path) -> Any:
    """The parsed object of one file; ``ValueError`` (with the parser's position) when it is not
    valid YAML/JSON, ``OSError`` when it cannot be read."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    try:
        return yaml.load(text, Loader=ScenarioLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ValueError(str(exc).replace("\n", " ")) from None


def dump_scenario(data: Any) -> str:
    return yaml.dump(data, Dumper=ScenarioDumper, allow_unicode=True, sort_keys=False, width=100)


def scenario_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in SUFFIXES and p.is_file() and p.name != "README.md")


def project_scenarios() -> list[Path]:
    """Every scenario the project carries (``settings.SCENARIOS_DIR``)."""
    return scenario_files(Path(settings.SCENARIOS_DIR))
