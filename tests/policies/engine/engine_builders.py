"""Builders for the engine tests (imported by the test modules in this folder)."""
from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

from policies.engine import BillIn, CertificationIn, Flags, PersonIn, PolicySpec, load_preset
from policies.engine.presets import PRESETS

D = Decimal


def d(text: str) -> date:
    return date.fromisoformat(text)


def person(*categories: str, since: str = "2019-01-01", until: str | None = None,
           grade: int | None = None) -> PersonIn:
    return PersonIn(
        certifications=tuple(CertificationIn(c, d(since), d(until) if until else None) for c in categories),
        disability_grade=grade,
    )


def bill(burden: str | Decimal = "10000.00", *, id: str = "b1", visit: str = "inpatient",
         start: str = "2023-03-01", end: str | None = None, basic: str = "0.00", critical: str = "0.00",
         other: str = "0.00", total: str | None = None, **flags: bool) -> BillIn:
    """A bill whose burden is ``burden`` (scope = burden + basic + critical + other)."""
    scope = D(burden) + D(basic) + D(critical) + D(other)
    return BillIn(
        id=id, visit_type=visit, start=d(start), end=d(end or start),
        total_cost=D(total) if total is not None else scope, policy_scope_cost=scope,
        basic_paid=D(basic), critical_paid=D(critical), other_paid=D(other), flags=Flags(**flags),
    )


def spec(code: str) -> PolicySpec:
    return load_preset(code)


def edited(code: str, edit) -> PolicySpec:
    """The preset ``code`` after ``edit(data)`` changed a copy of its dict (what an admin does)."""
    data = copy.deepcopy(PRESETS[code])
    edit(data)
    return PolicySpec.from_dict(data)


STATS = {2022: {"per_capita_disposable_income": D("50000.00"), "resident_contribution": D("380.00")},
         2023: {"per_capita_disposable_income": D("52000.00"), "resident_contribution": D("380.00")}}
