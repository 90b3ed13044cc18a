"""Copy worked scenarios from an external folder (``../shared/cases`` by default) into the project's
own scenarios, ``policies/scenarios/<name>.yaml``.

    .venv/bin/python scripts/import_cases.py [FOLDER] [--check]

A scenario that already exists keeps the project's ``clause`` (and any project-only keys); its
figures are replaced by the external file's. ``--check`` writes nothing and exits 1 when a file
would change (a new or changed external scenario not yet in the project).
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from policies.scenario_files import dump_scenario, read_scenario  # noqa: E402

DOCUMENTS = {
    "beijing-2023": "京医保发〔2022〕37号",
    "wuxi-2023": "无锡 2023",
    "ningbo-2019": "甬医保发〔2019〕27号",
    "national-2021": "国办发〔2021〕42号",
    "dongzhi-2022": "东至 2022",
}


def clause_of(data: dict) -> str:
    """The document and the clause markers named in the note, e.g. '京医保发〔2022〕37号 六(二)3'."""
    markers = re.findall(r"[一二三四五六七八九十]+[(（][一二三四五六七八九十]+[)）][0-9]*(?:\([0-9]\))?"
                         r"|[(（][一二三四五六七八九十]+[)）]", data.get("note", ""))
    unique = list(dict.fromkeys(m.replace("（", "(").replace("）", ")") for m in markers))
    return " ".join([DOCUMENTS.get(data.get("policy", ""), data.get("policy", "")), *unique]).strip()


def converted(source: Path, target: Path) -> str:
    data = json.loads(source.read_text(encoding="utf-8"))
    data.setdefault("name", source.stem)
    existing = read_scenario(target) if target.exists() else {}
    out = {"name": data["name"], "clause": existing.get("clause") or clause_of(data)}
    out.update({k: v for k, v in existing.items() if k not in data and k not in out})
    out.update({k: v for k, v in data.items() if k != "name"})
    return f"# From {source.name} (scripts/import_cases.py); the figures are worked by hand.\n" + dump_scenario(out)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    folder = Path(args[0]) if args else BASE.parent / "shared" / "cases"
    changed = []
    for source in sorted(folder.glob("*.json")):
        data_name = json.loads(source.read_text(encoding="utf-8")).get("name", source.stem)
        target = Path(settings.SCENARIOS_DIR) / f"{data_name}.yaml"
        text = converted(source, target)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changed.append(target.name)
            if not check:
                target.write_text(text, encoding="utf-8")
    verb = "would change" if check else "written"
    print(f"{len(changed)} scenario file(s) {verb}: {' '.join(changed)}" if changed else "scenarios up to date")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
