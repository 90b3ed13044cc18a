"""``manage.py assess FILE [FILE ...]``: compute worked scenarios (``policies/scenarios/README.md``:
the project's YAML files, or the JSON of ``../shared/cases``).

Each scenario is computed with the policy of its code AS STORED IN THE DATABASE (the current
version's rules, the ones administrators edit: ``spec_of(policy)``), through the real engine
(``policies.engine.scenario``: ``load_scenario`` validates, ``run_scenario`` computes). One JSON
object per file is printed on stdout, one per line: ``{"name": ..., "results": {...}}`` (plus
``policy``: the code and version used). Nothing is written to the database. A file that is not a
valid scenario gets a one-line error on stderr naming the file and the field, and the exit status
is 2 (valid files given alongside are still printed).

Templates that await confirmation (national-2021) are computed too: this is a calculator over
the stored rules, not a decision; ``policy.usable`` in the output says whether the version may be
used for real bills.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from policies.models import Policy
from policies.selectors import spec_of


class ScenarioFileError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def assess_file(path: Path) -> dict[str, Any]:
    """The printed object for one scenario file; ``ScenarioFileError`` if it is not valid."""
    from policies.engine.scenario import ScenarioError, load_scenario, run_scenario
    from policies.engine.types import PolicyError
    from policies.scenario_files import read_scenario

    try:
        data = read_scenario(path)
    except OSError as exc:
        raise ScenarioFileError("(file)", f"cannot be read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ScenarioFileError("(file)", f"is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    try:
        scenario = load_scenario(data)
    except ScenarioError as exc:
        raise ScenarioFileError(exc.field, exc.message) from None
    policy = Policy.objects.filter(code=scenario.policy, is_current=True).first()
    if policy is None:
        codes = ", ".join(Policy.objects.filter(is_current=True).order_by("code").values_list("code", flat=True))
        raise ScenarioFileError("policy", f"no policy {scenario.policy!r} in the database (have: {codes})")
    try:
        spec = spec_of(policy)
    except PolicyError as exc:  # stored rules that no longer validate: say which
        raise ScenarioFileError("policy", f"stored rules of {policy.code} v{policy.version} are invalid at "
                                          f"{exc.field}: {exc.message}") from None
    return {
        "name": scenario.name or path.stem,
        "policy": {"code": policy.code, "version": policy.version, "document_no": policy.document_no,
                   "usable": policy.usable},
        "results": run_scenario(spec, scenario),
    }


class Command(BaseCommand):
    # A calculator over stored rules: it needs no URLconf or admin checks to run.
    requires_system_checks: list[str] = []
    help = "Compute worked scenario files (policies/scenarios/*.yaml or JSON) with the policies stored in the database."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="scenario files (.yaml, .yml or .json)")

    def handle(self, *args, **options):
        errors: list[str] = []
        with transaction.atomic():
            for name in options["files"]:
                path = Path(name)
                try:
                    printed = assess_file(path)
                except ScenarioFileError as exc:
                    errors.append(f"{path}: field {exc.field}: {exc.message}")
                    continue
                self.stdout.write(json.dumps(printed, ensure_ascii=False, separators=(",", ":")))
            transaction.set_rollback(True)  # a calculator: nothing it touched is kept
        if errors:
            for line in errors[:-1]:
                self.stderr.write(line)
            raise CommandError(errors[-1], returncode=2)
