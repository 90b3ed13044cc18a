"""Scenario files (``shared/cases/*.json``, format in ``cases/README.md``): load and run.

``load_scenario`` validates a scenario dict into engine inputs, raising
``ScenarioError(field, message)`` that names the bad field; ``run_scenario`` computes it with a
given :class:`PolicySpec` and returns the ``results`` object the ``assess`` command prints.
Amount values are passed to the engine as read (strings become ``Decimal``): a bill with bad
amounts is a valid scenario whose result is ``{"error": "invalid_amounts"}``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, overload

from .application import ApplicationIn, HouseholdMemberIn, assess_application
from .engine import assess_bills
from .money import to_decimal
from .types import CATEGORIES, FLAG_NAMES, VISIT_TYPES, BillIn, CertificationIn, Flags, PersonIn, PolicySpec

__all__ = ["Scenario", "ScenarioError", "load_scenario", "run_scenario"]

AMOUNT_FIELDS = ("total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid")


class ScenarioError(ValueError):
    """A scenario that is not valid; ``field`` is the dotted path of the bad value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Scenario:
    name: str
    policy: str
    note: str = ""
    stats: Mapping[int, Mapping[str, Decimal]] = field(default_factory=dict)
    person: PersonIn | None = None
    bills: tuple[BillIn, ...] = ()
    application: ApplicationIn | None = None
    household: tuple[HouseholdMemberIn, ...] = ()
    expect: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_application(self) -> bool:
        return self.application is not None


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(path, "must be an object")
    return value


def _need(data: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in data:
        raise ScenarioError(f"{path}.{key}" if path else key, "is required")
    return data[key]


@overload
def _date(value: Any, path: str, *, nullable: Literal[False] = False) -> date: ...
@overload
def _date(value: Any, path: str, *, nullable: bool) -> date | None: ...
def _date(value: Any, path: str, *, nullable: bool = False) -> date | None:
    if value is None and nullable:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ScenarioError(path, "must be a date YYYY-MM-DD") from None


def _amount(value: Any) -> Any:
    """Decimal when the value is a number written as a string (or an int); otherwise as given,
    so that the engine reports the bill as ``invalid_amounts``."""
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _certifications(value: Any, path: str) -> tuple[CertificationIn, ...]:
    if not isinstance(value, list):
        raise ScenarioError(path, "must be a list")
    out = []
    for index, raw in enumerate(value):
        where = f"{path}[{index}]"
        cert = _obj(raw, where)
        category = _need(cert, "category", where)
        if category not in CATEGORIES:
            raise ScenarioError(f"{where}.category", f"unknown category {category!r}")
        valid_from = _date(_need(cert, "valid_from", where), f"{where}.valid_from")
        valid_until = _date(cert.get("valid_until"), f"{where}.valid_until", nullable=True)
        if valid_until is not None and valid_until < valid_from:
            raise ScenarioError(f"{where}.valid_until", "is before valid_from")
        out.append(CertificationIn(category, valid_from, valid_until))
    return tuple(out)


def _person(raw: Any, path: str) -> PersonIn:
    data = _obj(raw, path)
    grade = data.get("disability_grade")
    if grade is not None and (not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 4):
        raise ScenarioError(f"{path}.disability_grade", "must be null or a grade 1–4")
    return PersonIn(_certifications(data.get("certifications", []), f"{path}.certifications"), grade)


def _bills(value: Any, path: str, seen: set[str]) -> tuple[BillIn, ...]:
    if not isinstance(value, list):
        raise ScenarioError(path, "must be a list")
    out = []
    for index, raw in enumerate(value):
        where = f"{path}[{index}]"
        bill = _obj(raw, where)
        bill_id = _need(bill, "id", where)
        if not isinstance(bill_id, str) or not bill_id:
            raise ScenarioError(f"{where}.id", "must be a non-empty string")
        if bill_id in seen or bill_id == "application":
            raise ScenarioError(f"{where}.id", f"duplicate or reserved bill id {bill_id!r}")
        seen.add(bill_id)
        visit_type = _need(bill, "visit_type", where)
        if visit_type not in VISIT_TYPES:
            raise ScenarioError(f"{where}.visit_type", f"must be one of {', '.join(VISIT_TYPES)}")
        start = _date(_need(bill, "start", where), f"{where}.start")
        end = _date(_need(bill, "end", where), f"{where}.end")
        flags_raw = _obj(bill.get("flags", {}), f"{where}.flags")
        for name, flag in flags_raw.items():
            if name not in FLAG_NAMES:
                raise ScenarioError(f"{where}.flags.{name}", f"unknown flag; flags are {', '.join(FLAG_NAMES)}")
            if not isinstance(flag, bool):
                raise ScenarioError(f"{where}.flags.{name}", "must be true or false")
        amounts = {key: _amount(_need(bill, key, where)) for key in AMOUNT_FIELDS}
        out.append(BillIn(id=bill_id, visit_type=visit_type, start=start, end=end, flags=Flags(**flags_raw), **amounts))
    return tuple(out)


def _stats(value: Any) -> dict[int, dict[str, Decimal]]:
    data = _obj(value, "region_stats")
    out: dict[int, dict[str, Decimal]] = {}
    for year, values in data.items():
        try:
            year_int = int(year)
        except (TypeError, ValueError):
            raise ScenarioError(f"region_stats.{year}", "must be keyed by year") from None
        row = {}
        for name, raw in _obj(values, f"region_stats.{year}").items():
            try:
                row[name] = to_decimal(raw)
            except ValueError:
                raise ScenarioError(f"region_stats.{year}.{name}", "must be a number written as a string") from None
        out[year_int] = row
    return out


def load_scenario(data: Any) -> Scenario:
    """Validate a scenario dict (one parsed ``cases/*.json`` file) into engine inputs."""
    data = _obj(data, "(scenario)")
    name = data.get("name", "")
    if not isinstance(name, str):
        raise ScenarioError("name", "must be a string")
    policy = _need(data, "policy", "")
    if not isinstance(policy, str) or not policy:
        raise ScenarioError("policy", "must be a policy code such as \"beijing-2023\"")
    stats = _stats(data.get("region_stats", {}))
    expect = _obj(data.get("expect", {}), "expect")
    note = data.get("note", "")
    seen: set[str] = set()
    if "application" in data:
        app = _obj(data["application"], "application")
        used_raw = app.get("annual_bucket_used", "0.00")
        try:
            used = to_decimal(used_raw)
        except ValueError:
            raise ScenarioError("application.annual_bucket_used", "must be an amount such as \"0.00\"") from None
        previous = app.get("previous_application_same_year", False)
        if not isinstance(previous, bool):
            raise ScenarioError("application.previous_application_same_year", "must be true or false")
        application = ApplicationIn(_date(_need(app, "date", "application"), "application.date"),
                                    previous, used)
        members_raw = _need(data, "household", "")
        if not isinstance(members_raw, list) or not members_raw:
            raise ScenarioError("household", "must be a non-empty list")
        members = []
        for index, raw in enumerate(members_raw):
            where = f"household[{index}]"
            member = _obj(raw, where)
            role = _need(member, "role", where)
            if role not in ("patient", "member"):
                raise ScenarioError(f"{where}.role", "must be \"patient\" or \"member\"")
            members.append(HouseholdMemberIn(role, _person(member, where),
                                             _bills(member.get("bills", []), f"{where}.bills", seen)))
        if sum(1 for m in members if m.role == "patient") != 1:
            raise ScenarioError("household", "needs exactly one member with role \"patient\"")
        return Scenario(name=name, policy=policy, note=note, stats=stats, application=application,
                        household=tuple(members), expect=expect)
    person = _person(_need(data, "person", ""), "person")
    bills = _bills(_need(data, "bills", ""), "bills", seen)
    return Scenario(name=name, policy=policy, note=note, stats=stats, person=person, bills=bills, expect=expect)


def run_scenario(spec: PolicySpec, scenario: Scenario) -> dict[str, Any]:
    """The ``results`` object: ``{"b1": {...}, ...}`` or ``{"application": {...}}`` (JSON-ready)."""
    if scenario.application is not None:
        result = assess_application(spec, scenario.application, scenario.household, scenario.stats)
        return {"application": result.to_dict()}
    if scenario.person is None:
        raise ValueError("a bill scenario needs a person")
    results = assess_bills(spec, scenario.person, scenario.bills, None, scenario.stats)
    return {bill.id: result.to_dict() for bill, result in zip(scenario.bills, results, strict=True)}



