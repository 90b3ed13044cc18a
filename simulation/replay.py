"""The replay: a chunk of people's real bills through the pure engine, under the versions in force
and under a draft, with the same identities and the same order. Reads only; writes nothing of
``claims`` (the results go to :class:`simulation.models.SimulationPersonYear`).

It follows the nightly bulk path (``claims.recalc.recompute_chunk``), so a simulated "now" is
exactly what the nightly run would compute:

- the same bills: the person-year's bills with a granted figure (``claims.money.bills_granted``,
  the same set that uses up cap room: what the fund pays or has paid) settled in the period, in the
  core's decision order (``claims.recalc.decision_key``: settlement order, a claim's bill at its
  approval, an API reservation at its answer);
  pending and rejected claims are not spending;
- the same inputs: rows mapped by ``claims.recalc._bill_in`` (= ``policies.adapters.bill_in``),
  certifications as ``CertificationIn``, the same ``RegionStats``;
- the same policy choice "now": ``claims.recalc.PolicyPicker`` (= ``policy_in_force``);
- the same year start: draws paid outside the bills (``LedgerDraw``) seed both states.

Under the draft every bill of the period is assessed with the draft's spec, its dates widened to the
period ("as if it had been in force for the whole period").
"""
from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

ZERO = Decimal("0.00")


def draft_spec_for_period(rules: dict, *, start: date):
    """The draft's engine spec with its dates set to the replayed period (validated by the engine)."""
    from policies.engine.types import PolicySpec

    rules = copy.deepcopy(rules)
    rules["effective_from"] = start.isoformat()
    rules["effective_to"] = None
    rules.pop("needs_confirmation", None)
    return PolicySpec.from_dict(rules)


def capped(result) -> bool:
    """The bill left no room in a capped bucket (封顶): some bucket line ends at zero room."""
    if result is None:
        return False
    for line in result.buckets:
        if line.cap is not None and line.room_after is not None and line.room_after <= 0 and line.drawn > 0:
            return True
    return False


@dataclass
class YearReplay:
    """One person-year under both: the results in bill order (base None: no policy in force), the
    totals and whether a capped bucket was exhausted (computed once, in :func:`replay_year`)."""

    person_id: int
    year: int
    district_id: int
    rows: list[tuple]
    base: list[Any] = field(default_factory=list)
    draft: list[Any] = field(default_factory=list)
    base_policies: list[Any] = field(default_factory=list)
    base_total: Decimal = ZERO
    draft_total: Decimal = ZERO
    base_capped: bool = False
    draft_capped: bool = False


@lru_cache(maxsize=1)
def _deps():
    """The functions a replay calls, imported once (not per person-year)."""
    from claims.recalc import B_END, _bill_in
    from claims.services import seed_year_state
    from policies.engine.engine import assess_bill
    from policies.engine.types import YearState

    return seed_year_state, B_END, _bill_in, assess_bill, YearState


def replay_year(*, picker, region_id: int | None, draft_spec, person_in, rows: Sequence[tuple], draws: Iterable,
                year: int, person_id: int, district_id: int) -> YearReplay:
    """Both assessments of one person-year; ``rows`` are ``SIM_FIELDS`` rows in settlement order."""
    seed_year_state, b_end, bill_in, assess_bill, year_state = _deps()
    draws = list(draws)
    stats = picker.stats(region_id)
    base_state, draft_state = year_state(year), year_state(year)
    if draws:
        seed_year_state(base_state, draws)
        seed_year_state(draft_state, draws)
    out = YearReplay(person_id=person_id, year=year, district_id=district_id, rows=list(rows))
    base_total = draft_total = ZERO
    base_capped = draft_capped = False
    for row in rows:
        bill = bill_in(row)
        policy = picker.pick(region_id, row[b_end])
        out.base_policies.append(policy)
        if policy is None:
            base = None
        else:
            base = assess_bill(picker.spec_for(policy), person_in, bill, base_state, stats)
            base_total += base.total
            base_capped = base_capped or (bool(base.buckets) and capped(base))
        draft = assess_bill(draft_spec, person_in, bill, draft_state, stats)
        draft_total += draft.total
        draft_capped = draft_capped or (bool(draft.buckets) and capped(draft))
        out.base.append(base)
        out.draft.append(draft)
    out.base_total, out.draft_total, out.base_capped, out.draft_capped = base_total, draft_total, base_capped, draft_capped
    return out


def sim_fields() -> tuple[str, ...]:
    """The leading columns of ``claims.recalc.BILL_FIELDS`` that ``_bill_in`` reads (same
    positions), without the stored results (no timestamps or JSON to parse), then ``counted_at``
    (right after them) for the decision order."""
    from claims.recalc import B_DESIGNATED, BILL_FIELDS

    return (*BILL_FIELDS[:B_DESIGNATED + 1], "counted_at")


def in_decision_order(rows: list[tuple]) -> list[tuple]:
    """A person-year's rows in the order the nightly core computes them
    (``claims.recalc.in_decision_order``): a later decision never re-deals room an earlier one granted."""
    from claims import recalc

    return recalc.in_decision_order(rows, counted_at=recalc.B_DESIGNATED + 1)


def bills_query(*, region_id: int, district_id: int | None, start: date, end: date):
    from claims import money
    from claims.models import Bill

    qs = money.bills_granted(Bill.objects.filter(person__insured_region_id=region_id, discharge_date__gte=start,
                                                 discharge_date__lte=end))
    if district_id is not None:
        qs = qs.filter(person__hukou_district_id=district_id)
    return qs


def replay_people(*, region_id: int, district_id: int | None, start: date, end: date, draft_spec,
                  lo: int, hi: int, picker=None, person_ids: Sequence[int] | None = None) -> list[YearReplay]:
    """Every person-year of people ``lo..hi`` (insured in the region, in the district if given)
    with counted bills settled in ``start..end``: a few set-based queries, then the engine."""
    from beneficiaries.models import Certification, Person
    from claims.models import LedgerDraw
    from claims.recalc import B_END, B_PERSON, PolicyPicker
    from policies.engine.types import CertificationIn, PersonIn

    picker = picker or PolicyPicker.load()
    bills = bills_query(region_id=region_id, district_id=district_id, start=start, end=end).filter(
        person_id__gte=lo, person_id__lte=hi)
    if person_ids is not None:
        bills = bills.filter(person_id__in=list(person_ids))
    by_person_year: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    for row in bills.order_by("person_id", "discharge_date", "id").values_list(*sim_fields()):
        by_person_year[(row[B_PERSON], row[B_END].year)].append(row)
    if not by_person_year:
        return []
    ids = sorted({p for p, _y in by_person_year})
    id_filter = {"person_id__gte": lo, "person_id__lte": hi} if person_ids is None else {"person_id__in": ids}
    certs: dict[int, list] = defaultdict(list)
    for pid, code, valid_from, valid_until in Certification.objects.filter(**id_filter).order_by(
            "person_id", "valid_from", "pk").values_list("person_id", "category__code", "valid_from", "valid_until"):
        certs[pid].append(CertificationIn(category=code, valid_from=valid_from, valid_until=valid_until))
    people = {pid: (grade, district) for pid, grade, district in Person.objects.filter(
        **{k.replace("person_id", "pk"): v for k, v in id_filter.items()}).values_list(
        "id", "disability_grade", "hukou_district_id")}
    draws: dict[tuple[int, int], list] = defaultdict(list)
    years = {y for _p, y in by_person_year}
    for draw in LedgerDraw.objects.filter(**{f"ledger__{k}": v for k, v in id_filter.items()},
                                          ledger__year__in=years).select_related("ledger").only(
            "bucket", "amount", "ledger__person_id", "ledger__year"):
        draws[(draw.ledger.person_id, draw.ledger.year)].append(draw)
    out: list[YearReplay] = []
    person_cache: dict[int, Any] = {}
    for key in sorted(by_person_year):
        person_id, year = key
        grade, district = people[person_id]
        pin = person_cache.get(person_id)
        if pin is None:
            pin = person_cache[person_id] = PersonIn(certifications=tuple(certs.get(person_id, ())), disability_grade=grade)
        out.append(replay_year(picker=picker, region_id=region_id, draft_spec=draft_spec, person_in=pin,
                               rows=in_decision_order(by_person_year[key]), draws=draws.get(key, ()), year=year,
                               person_id=person_id, district_id=district))
    return out


def _add(d: dict, key: str, values: Sequence[Decimal | int]) -> None:
    current = d.get(key)
    if current is None:
        d[key] = [str(v) for v in values]
    else:
        d[key] = [str(Decimal(a) + Decimal(b)) if isinstance(b, Decimal) else str(int(a) + b)
                  for a, b in zip(current, values, strict=True)]


def aggregate(replays: Iterable[YearReplay]) -> dict:
    """Chunk aggregates (JSON, money as strings): cells district|category|visit class, months, totals."""
    from claims.recalc import B_END

    cells: dict[tuple, list] = defaultdict(lambda: [ZERO, ZERO, 0, 0])
    months: dict[tuple[int, int], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    totals = {"base": ZERO, "draft": ZERO, "person_years": 0, "bills": 0, "gainers": 0, "losers": 0,
              "gain": ZERO, "loss": ZERO, "base_capped": 0, "draft_capped": 0, "newly_capped": 0, "no_longer_capped": 0}
    for py in replays:
        totals["person_years"] += 1
        totals["bills"] += len(py.rows)
        district = py.district_id
        for row, base, draft in zip(py.rows, py.base, py.draft, strict=True):
            end = row[B_END]
            month = months[(end.year, end.month)]
            if base is not None and base.total:
                cell = cells[(district, base.category, base.visit_class)]
                cell[0] += base.total
                cell[2] += 1
                month[0] += base.total
            if draft.total:
                cell = cells[(district, draft.category, draft.visit_class)]
                cell[1] += draft.total
                cell[3] += 1
                month[1] += draft.total
        b, d = py.base_total, py.draft_total
        totals["base"] += b
        totals["draft"] += d
        if d > b:
            totals["gainers"] += 1
            totals["gain"] += d - b
        elif d < b:
            totals["losers"] += 1
            totals["loss"] += b - d
        bc, dc = py.base_capped, py.draft_capped
        totals["base_capped"] += bc
        totals["draft_capped"] += dc
        totals["newly_capped"] += dc and not bc
        totals["no_longer_capped"] += bc and not dc
    return {
        "cells": {f"{k[0]}|{k[1] or ''}|{k[2] or ''}": [str(v[0]), str(v[1]), v[2], v[3]] for k, v in cells.items()},
        "months": {f"{y:04d}-{m:02d}": [str(v[0]), str(v[1])] for (y, m), v in months.items()},
        "totals": {k: str(v) if isinstance(v, Decimal) else int(v) for k, v in totals.items()},
    }


def merge(parts: Iterable[dict]) -> dict:
    """Sum chunk aggregates (the same shape)."""
    cells: dict[str, list] = {}
    months: dict[str, list] = {}
    totals: dict[str, Any] = {}
    for part in parts:
        for k, v in part.get("cells", {}).items():
            _add(cells, k, [Decimal(v[0]), Decimal(v[1]), int(v[2]), int(v[3])])
        for k, v in part.get("months", {}).items():
            _add(months, k, [Decimal(v[0]), Decimal(v[1])])
        for k, v in part.get("totals", {}).items():
            if isinstance(v, str):
                totals[k] = str(Decimal(totals.get(k, "0.00")) + Decimal(v))
            else:
                totals[k] = int(totals.get(k, 0)) + int(v)
    for v in cells.values():
        v[2], v[3] = int(v[2]), int(v[3])
    return {"cells": cells, "months": dict(sorted(months.items())), "totals": totals}
