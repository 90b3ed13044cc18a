"""Per-district standards (区级标准, Beijing 七): resolve a region's rules with a district's overrides.

Pure functions over the rules dict (no Django): ``apply_overrides(rules, overrides, cite)`` returns
a copy of the region's rules with the named parameters replaced and the clause of every overridden
rule set to the district's document (``cite``), so explanations cite it for those lines. Only the
parameters in ``OVERRIDABLE`` may be overridden; anything else is refused naming the parameter.
"""
from __future__ import annotations

import copy
from typing import Any

__all__ = ["OVERRIDABLE", "OverrideError", "apply_overrides", "describe_overrides"]

# Named parameters a district may set. ``tilted``: the whole tilted-assistance rule (倾斜救助,
# 京 七 "具体救助标准由各区人民政府确定"); ``tiers.<tier>.visit_classes.<class>.rate`` and
# ``tiers.<tier>.buckets.<bucket>.cap``: a tier's rate or annual cap.
OVERRIDABLE = ("tilted", "tiers.*.visit_classes.*.rate", "tiers.*.buckets.*.cap")


class OverrideError(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def _allowed(name: str) -> bool:
    parts = name.split(".")
    for pattern in OVERRIDABLE:
        wanted = pattern.split(".")
        if len(wanted) == len(parts) and all(w == "*" or w == p for w, p in zip(wanted, parts, strict=True)):
            return True
    return False


def apply_overrides(rules: dict[str, Any], overrides: dict[str, Any], cite: str) -> dict[str, Any]:
    """The region's ``rules`` with the district's ``overrides`` applied (a new dict)."""
    if not isinstance(overrides, dict):
        raise OverrideError("overrides", "must be an object of parameter: value")
    out = copy.deepcopy(rules)
    for name, value in overrides.items():
        if not isinstance(name, str) or not _allowed(name):
            raise OverrideError(str(name), "is not a parameter a district may set (allowed: " + ", ".join(OVERRIDABLE) + ")")
        if name == "tilted":
            if value is None:
                out["tilted"] = None
                continue
            if not isinstance(value, dict):
                raise OverrideError(name, "must be an object (threshold, rate, required_flags, cap) or null")
            tilted = copy.deepcopy(value)
            tilted["clause"] = cite
            out["tilted"] = tilted
            continue
        _, tier_code, group, key, field = name.split(".")
        tier = next((t for t in out.get("tiers", []) if t.get("code") == tier_code), None)
        if tier is None:
            raise OverrideError(name, f"the region's policy has no tier {tier_code!r}")
        target = tier.get(group, {}).get(key)
        if not isinstance(target, dict):
            raise OverrideError(name, f"tier {tier_code} has no {group[:-1].replace('_', ' ')} {key!r}")
        target[field] = value
        target["clause"] = cite
    return out


def describe_overrides(overrides: dict[str, Any]) -> list[tuple[str, str]]:
    """(parameter, value as text) rows for the policy page's 区级标准 table."""
    rows = []
    for name, value in (overrides or {}).items():
        if name == "tilted" and isinstance(value, dict):
            from .engine.money import percent_str, to_decimal

            try:
                rate = percent_str(to_decimal(value.get("rate")))
            except ValueError:
                rate = str(value.get("rate"))
            text = f"年度累计个人负担超过 {value.get('threshold')} 元部分按 {rate} 救助"
            if value.get("cap"):
                text += f"，年度限额 {value.get('cap')} 元"
            rows.append(("倾斜救助", text))
        else:
            rows.append((name, "不设" if value is None else str(value)))
    return rows
