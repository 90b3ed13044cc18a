#!/usr/bin/env python3
"""Fill empty English translations in a gettext .po file from a zh<TAB>en glossary.

    python scripts/translate_en.py                      # locale/en/LC_MESSAGES/django.po, locale/en/glossary.tsv
    python scripts/translate_en.py --missing            # also list what the glossary lacks (TSV, to paste and translate)
    python scripts/translate_en.py --overwrite          # replace existing translations by the glossary's

Only entries whose msgstr is empty (or fuzzy) are filled, so hand-made translations in the .po stay;
a filled entry loses its ``fuzzy`` flag. An entry whose placeholders (``%(name)s``, ``%s``, ``{x}``)
differ between Chinese and English is skipped with a warning, so msgfmt never fails on it.
Standard library only: runs before requirements are installed.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")


@dataclass
class Entry:
    comments: list[str] = field(default_factory=list)  # "#..." lines, kept verbatim
    fields: list[tuple[str, str]] = field(default_factory=list)  # (keyword, unescaped value), in order

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.fields if k == key), None)

    def set(self, key: str, value: str) -> None:
        self.fields = [(k, value if k == key else v) for k, v in self.fields]

    @property
    def fuzzy(self) -> bool:
        return any(c.startswith("#,") and "fuzzy" in c for c in self.comments)

    def unfuzzy(self) -> None:
        kept = []
        for c in self.comments:
            if c.startswith("#,"):
                flags = [f.strip() for f in c[2:].split(",") if f.strip() and f.strip() != "fuzzy"]
                if not flags:
                    continue
                c = "#, " + ", ".join(flags)
            kept.append(c)
        self.comments = kept
        # the previous msgid of a fuzzy match is meaningless once translated
        self.comments = [c for c in self.comments if not c.startswith("#|")]


def unescape(s: str) -> str:
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(m.group(1), m.group(0)), s)


def escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\n", "\\n")


def parse(text: str) -> list[Entry]:
    entries: list[Entry] = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        entry = Entry()
        for line in block.splitlines():
            if line.startswith("#"):
                entry.comments.append(line)
            elif line.startswith('"') and entry.fields:
                key, value = entry.fields[-1]
                entry.fields[-1] = (key, value + unescape(line.strip()[1:-1]))
            elif line.strip():
                key, _, rest = line.partition(" ")
                entry.fields.append((key, unescape(rest.strip()[1:-1])))
        if entry.fields or entry.comments:
            entries.append(entry)
    return entries


def render(entries: list[Entry]) -> str:
    out = []
    for entry in entries:
        lines = list(entry.comments)
        for key, value in entry.fields:
            if "\n" in value[:-1] or len(value) > 70:
                lines.append(f'{key} ""')
                parts = re.findall(r"[^\n]*\n|[^\n]+", value)
                lines.extend(f'"{escape(p)}"' for p in parts)
            else:
                lines.append(f'{key} "{escape(value)}"')
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def load_glossary(path: Path) -> dict[str, str]:
    glossary: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            print(f"{path}:{n}: no tab, skipped: {line!r}", file=sys.stderr)
            continue
        zh, en = line.split("\t", 1)
        glossary[unescape(zh)] = unescape(en.rstrip("\r"))
    return glossary


def placeholders_match(zh: str, en: str) -> bool:
    return sorted(PLACEHOLDER.findall(zh)) == sorted(PLACEHOLDER.findall(en))


HEADER_DEFAULTS = {
    "Project-Id-Version": "medassist",
    "Language": "en",
    "Language-Team": "English",
    "Last-Translator": "scripts/translate_en.py",
}


def fix_header(entry: Entry) -> None:
    """Replace makemessages' placeholders (``PACKAGE VERSION``, empty ``Language``) so msgfmt -c is quiet."""
    header = entry.get("msgstr") or ""
    lines = []
    for line in header.splitlines(keepends=True):
        key, sep, value = line.partition(":")
        if key in HEADER_DEFAULTS and (not value.strip() or any(w in value for w in ("PACKAGE", "LANGUAGE", "FULL NAME"))):
            line = f"{key}: {HEADER_DEFAULTS[key]}\n"
        elif key == "PO-Revision-Date" and "YEAR" in value:
            line = f"{key}: 2026-01-01 00:00+0800\n"
        lines.append(line)
    entry.set("msgstr", "".join(lines))
    entry.unfuzzy()


def fill(entries: list[Entry], glossary: dict[str, str], *, overwrite: bool = False) -> tuple[int, list[str], list[str]]:
    """Fill translations in place; return (filled, still missing msgids, skipped msgids)."""
    filled, missing, skipped = 0, [], []
    for entry in entries:
        msgid = entry.get("msgid")
        if not msgid:  # the header
            fix_header(entry)
            continue
        plural = entry.get("msgid_plural")
        targets = [("msgstr", msgid)] if plural is None else [("msgstr[0]", msgid), ("msgstr[1]", plural)]
        changed = False
        for key, source in targets:
            current = entry.get(key) or ""
            if current and not entry.fuzzy and not overwrite:
                continue
            english = glossary.get(source)
            if english is None and plural is not None:
                english = glossary.get(msgid)
            if english is None:
                if not current or entry.fuzzy:
                    missing.append(source)
                continue
            if not placeholders_match(source, english):
                skipped.append(source)
                continue
            if english != current or entry.fuzzy:  # a fuzzy guess the glossary confirms is filled too
                entry.set(key, english)
                changed = True
        if changed:
            entry.unfuzzy()
            filled += 1
    return filled, missing, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--po", type=Path, default=ROOT / "locale/en/LC_MESSAGES/django.po")
    parser.add_argument("--glossary", type=Path, default=ROOT / "locale/en/glossary.tsv")
    parser.add_argument("--overwrite", action="store_true", help="replace existing translations too")
    parser.add_argument("--missing", action="store_true", help="print untranslated msgids as TSV lines")
    args = parser.parse_args(argv)

    entries = parse(args.po.read_text(encoding="utf-8"))
    filled, missing, skipped = fill(entries, load_glossary(args.glossary), overwrite=args.overwrite)
    args.po.write_text(render(entries), encoding="utf-8")
    total = sum(1 for e in entries if e.get("msgid"))
    print(f"{args.po}: filled {filled}, untranslated {len(missing)} of {total}", file=sys.stderr)
    for source in skipped:
        print(f"  skipped (placeholders differ): {source!r}", file=sys.stderr)
    if args.missing:
        for source in dict.fromkeys(missing):
            print(f"{escape(source)}\t")
    return 0


if __name__ == "__main__":
    sys.exit(main())
