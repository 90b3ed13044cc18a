"""Per-bill assistance (POLICY.md §1–§3), premium subsidy (§5) and early warnings (§6).

The hot path is :func:`assess_bills`: per bill it validates amounts, finds the categories whose
coverage window overlaps the stay, computes under each (a dry run), pays the highest once and
then updates the person's :class:`YearState`. Everything a rule needs was precomputed when the
:class:`PolicySpec` was built; explanations are derived only when read.
"""
from __future__ import annotations

from calendar import monthrange
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from .money import CENT, MAX_AMOUNT, ZERO, percent_str, round_money, to_decimal
from .types import (
    CATEGORIES,
    BillIn,
    BillResult,
    Flags,
    MissingStatisticError,
    PersonIn,
    Plan,
    PolicySpec,
    RegionStats,
    SpecialItem,
    SubsidyResult,
    SubsidyTimingResult,
    Tier,
    Tilted,
    WarningResult,
    YearState,
    _flags_match,
)

__all__ = [
    "assess_bill",
    "assess_bills",
    "bill_burden",
    "covering_categories",
    "month_end",
    "premium_subsidy",
    "statistic",
    "subsidy_timing",
    "visit_class_of",
    "warning_kind",
]

EMPTY_STATS: RegionStats = MappingProxyType({})


# --------------------------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------------------------

_MONTH_END: dict[date, date] = {}


def month_end(day: date) -> date:
    """Last day of ``day``'s month (coverage ``end_of_month``: 次月起不再享受)."""
    result = _MONTH_END.get(day)
    if result is None:
        result = day.replace(day=monthrange(day.year, day.month)[1])
        if len(_MONTH_END) < 100_000:
            _MONTH_END[day] = result
    return result


def bill_burden(bill: BillIn) -> Decimal | None:
    """政策范围内个人负担 = scope − basic − critical − other, floored at 0 and rounded to fen.

    None when the amounts are inconsistent: negative, non-numeric (floats included), too large,
    ``total_cost < policy_scope_cost`` or ``policy_scope_cost < basic_paid + critical_paid``.
    """
    total = bill.total_cost
    scope = bill.policy_scope_cost
    basic = bill.basic_paid
    critical = bill.critical_paid
    other = bill.other_paid
    D = Decimal
    if not (type(total) is D and type(scope) is D and type(basic) is D and type(critical) is D
            and type(other) is D):
        try:
            total, scope, basic, critical, other = (
                to_decimal(total), to_decimal(scope), to_decimal(basic), to_decimal(critical), to_decimal(other))
        except ValueError:
            return None
    try:
        if not (MAX_AMOUNT >= total >= scope >= basic + critical and basic >= ZERO and critical >= ZERO
                and MAX_AMOUNT >= other >= ZERO):
            return None
        burden = scope - basic - critical - other
    except InvalidOperation:  # NaN
        return None
    if burden <= ZERO:
        return ZERO
    return burden.quantize(CENT, ROUND_HALF_UP)


def statistic(stats: RegionStats, year: int, name: str) -> Decimal:
    """A recorded regional statistic; :class:`MissingStatisticError` if it is not recorded."""
    try:
        value = stats[year][name]
    except (KeyError, TypeError, IndexError):
        raise MissingStatisticError(year, name) from None
    if type(value) is Decimal:
        return value
    try:
        return to_decimal(value)
    except ValueError:
        raise MissingStatisticError(year, name) from None


def _covers(policy: PolicySpec, valid_from: date, valid_until: date | None, start: date, end: date) -> bool:
    if valid_from > end:
        return False
    if valid_until is None:
        return True
    if policy.end_of_month:
        valid_until = month_end(valid_until)
    return valid_until >= start


def covering_categories(policy: PolicySpec, person: PersonIn, bill: BillIn) -> list[str]:
    """Categories whose coverage window overlaps the bill's service window ``[start, end]``.

    Identity lost during a stay keeps that stay; identity gained during a stay covers all of it
    (京医保发〔2022〕37号 十(三), 无锡 四(八)). In certification order, each category once.
    """
    found: list[str] = []
    for cert in person.certifications:
        if cert.category not in found and _covers(policy, cert.valid_from, cert.valid_until, bill.start, bill.end):
            found.append(cert.category)
    return found


def categories_on(policy: PolicySpec, person: PersonIn, on: date) -> list[str]:
    """Categories whose coverage window contains the date ``on``."""
    found: list[str] = []
    for cert in person.certifications:
        if cert.category not in found and _covers(policy, cert.valid_from, cert.valid_until, on, on):
            found.append(cert.category)
    return found


def visit_class_of(policy: PolicySpec, bill: BillIn) -> str | None:
    """The visit class a bill falls in under the policy (None: not covered)."""
    rule = policy.visit_match(bill.visit_type, bill.flags)[0]
    return None if rule is None else rule.visit_class


# --------------------------------------------------------------------------------------------
# Results without a computation
# --------------------------------------------------------------------------------------------

_new = tuple.__new__  # builds the records in C; bucket and item lines are plain rows (see types.BillResult)


def _error(bill: BillIn, error: str, burden: Decimal = ZERO) -> BillResult:
    return _new(BillResult, (getattr(bill, "id", ""), error, ZERO, ZERO, ZERO, ZERO, None, None, None, burden,
                             ZERO, None, ZERO, (), (error,), (), (), None))


def _gate(policy: PolicySpec, bill: BillIn, burden: Decimal, reasons: tuple[str, ...],
          plan: Plan | None = None) -> BillResult:
    """Zero result for a bill that no rule covers (not eligible, non-designated, unreferred...)."""
    plan = plan or policy.gate_plan
    found = plan.reason_clauses
    clauses = tuple(dict.fromkeys(found[r] for r in reasons if found.get(r)))
    return _new(BillResult, (bill.id, None, ZERO, ZERO, ZERO, ZERO, plan.category, plan.tier_code, None, burden,
                             ZERO, None, ZERO, (), reasons, clauses, (), plan))


# --------------------------------------------------------------------------------------------
# The calculation
# --------------------------------------------------------------------------------------------


def _deductible_amount(tier: Tier, year: int, stats: RegionStats) -> Decimal:
    """The tier's annual deductible for a bill settled in ``year`` (MissingStatisticError if unknown)."""
    ded = tier.deductible
    if ded.kind == "fixed":
        return ded.amount  # type: ignore[return-value]
    value = statistic(stats, year + ded.year_offset, ded.statistic)  # type: ignore[arg-type]
    return (value * ded.share).quantize(CENT, ROUND_HALF_UP)  # type: ignore[operator]


def _tilted_amount(spec: Tilted, state: YearState, left: Decimal, used: dict[str, Decimal],
                   reasons: tuple[str, ...]) -> tuple[Decimal, tuple[str, ...]]:
    """倾斜救助: rate × the growth of the year's remaining burden above the threshold (``left``:
    this bill's burden after assistance and special items), within its cap. The one copy both the
    general and the fast path call; returns the amount and the reasons with any cap reason added."""
    before = state.tilted_base
    after = before + left
    threshold = spec.threshold
    if after <= threshold:
        return ZERO, reasons
    over = after - threshold if before <= threshold else after - before
    tilted = (over * spec.rate).quantize(CENT, ROUND_HALF_UP)
    if spec.cap is not None:
        room = spec.cap - used.get("tilted", ZERO)
        if room < tilted:
            tilted = room if room > ZERO else ZERO
            reasons += ("cap_limited",) if tilted else ("cap_exhausted",)
    return tilted, reasons


def _compute(policy: PolicySpec, entry: tuple, plan: Plan, bill: BillIn, burden: Decimal,
             state: YearState, stats: RegionStats, person: PersonIn) -> BillResult:
    """The bill's result under one category (a dry run: ``state`` is only read)."""
    tier = entry[2]
    flags = bill.flags
    if tier.required_flags and not _flags_match(flags, tier.required_flags):
        return _gate(policy, bill, burden, ("not_eligible",), plan)
    used = state.bucket_used
    reasons: tuple[str, ...] = ()
    assistance = deductible = raw = special = ZERO
    buckets: tuple[tuple[Any, ...], ...] = ()
    specials: list[tuple] | None = None
    exclusive = None
    if policy.exclusive_specials:
        # combine "instead" (e.g. 罕见病专项救助 of the whole burden): replaces regular assistance;
        # several applying: the one paying most (就高), never two.
        for item in policy.exclusive_specials:
            if _special_applies(item, plan.category, bill, person):
                amount, note = _special_amount(item, burden, used)
                if exclusive is None or amount > special:
                    exclusive, special, exclusive_note = item, amount, note
    if exclusive is not None:
        specials = [(exclusive, special)]
        reasons += exclusive_note + ("special_instead",)
    else:
        rate = plan.rate
        if rate is not None:
            if tier.deductible.kind != "none":
                left = _deductible_amount(tier, bill.end.year, stats) - state.deductible_used
                if left > ZERO:
                    deductible = burden if burden < left else left
                    if deductible:
                        reasons = ("deductible",)
                raw = ((burden - deductible) * rate).quantize(CENT, ROUND_HALF_UP)
            else:
                raw = (burden * rate).quantize(CENT, ROUND_HALF_UP)
            assistance = raw
            draws = plan.draws
            if len(draws) == 1:  # the common case: one bucket
                name, cap, clause = draws[0]
                if cap is None:
                    buckets = ((name, None, None, None, assistance, clause),)
                else:
                    room = cap - used.get(name, ZERO)
                    if room < ZERO:
                        room = ZERO
                    if room < assistance:
                        assistance = room
                        reasons += ("cap_limited",) if assistance else ("cap_exhausted",)
                    buckets = ((name, cap, room, room - assistance, assistance, clause),)
            elif draws:
                rooms: list[Decimal | None] = []
                for name, cap, _ in draws:
                    if cap is None:
                        rooms.append(None)
                    else:
                        room = cap - used.get(name, ZERO)
                        if room < ZERO:
                            room = ZERO
                        if room < assistance:
                            assistance = room
                        rooms.append(room)
                buckets = tuple([
                    (name, cap, room, None if room is None else room - assistance, assistance, clause)
                    for (name, cap, clause), room in zip(draws, rooms)  # noqa: B905 - same length by construction; hot path
                ])
                if assistance < raw:
                    reasons += ("cap_limited",) if assistance else ("cap_exhausted",)
        if policy.higher_specials and rate is not None:
            # combine "higher" (就高, 不得重复): the special item instead of regular assistance
            # where it pays more; never both.
            best_item = None
            applied = False
            for item in policy.higher_specials:
                if _special_applies(item, plan.category, bill, person):
                    applied = True
                    amount, note = _special_amount(item, burden, used)
                    if amount > assistance and (best_item is None or amount > special):
                        best_item, special, best_note = item, amount, note
            if best_item is None and applied:
                reasons += ("regular_higher",)
            elif best_item is not None:
                specials = [(best_item, special)]
                reasons = tuple(r for r in reasons if r not in ("cap_limited", "cap_exhausted", "regular_higher"))
                reasons += best_note + ("special_higher",)
                assistance = ZERO
                buckets = tuple([(b[0], b[1], b[2], b[2], ZERO, b[5]) for b in buckets])
        elif policy.higher_specials:  # no regular assistance for this visit class: the item alone
            for item in policy.higher_specials:
                if _special_applies(item, plan.category, bill, person):
                    amount, note = _special_amount(item, burden, used)
                    if specials is None or amount > special:
                        specials, special, best_note = [(item, amount)], amount, note
            if specials is not None:
                reasons += best_note
        if policy.other_specials:
            remaining = burden - assistance - special
            for item in policy.other_specials:
                if remaining <= ZERO:
                    break
                if _special_applies(item, plan.category, bill, person):
                    amount, note = _special_amount(item, remaining, used)
                    if specials is None:
                        specials = []
                    specials.append((item, amount))
                    special += amount
                    remaining -= amount
                    reasons += note
        if rate is None and specials is None:
            reasons += ("visit_not_covered",)
    tilted = ZERO
    spec = policy.tilted
    if spec is not None and _flags_match(flags, spec.required_flags):
        tilted, reasons = _tilted_amount(spec, state, burden - assistance - special, used, reasons)
    clauses = plan.clauses
    items: tuple[tuple[Any, ...], ...] = ()
    if specials is not None or tilted:
        lines = [("special", item.code, item.label_zh, amount, _special_detail(item), item.clause,
                  None if item.bucket is None else item.bucket.name)
                 for item, amount in specials or ()]
        if tilted:
            lines.append(("tilted", "tilted", "倾斜救助", tilted,
                          f"年度累计个人负担超过 {spec.threshold} 元部分按 {percent_str(spec.rate)}",  # type: ignore[union-attr]
                          spec.clause, None if spec.cap is None else "tilted"))  # type: ignore[union-attr]
        items = tuple(lines)
        clauses = tuple(dict.fromkeys(clauses + tuple([i[5] for i in items])))
    return _new(BillResult, (bill.id, None, assistance, tilted, special, assistance + tilted + special,
                             plan.category, plan.tier_code, plan.visit_class, burden, deductible, plan.rate, raw,
                             buckets, reasons, clauses, items, plan))


def _special_applies(item: SpecialItem, category: str | None, bill: BillIn, person: PersonIn) -> bool:
    if item.visit_types is not None and bill.visit_type not in item.visit_types:
        return False
    if item.required_flags and not _flags_match(bill.flags, item.required_flags):
        return False
    if item.categories is not None and category not in item.categories:
        return False
    if item.disability_grades is not None and person.disability_grade not in item.disability_grades:
        return False
    return True


def _special_amount(item: SpecialItem, base: Decimal, used: dict[str, Decimal]) -> tuple[Decimal, tuple[str, ...]]:
    """(amount, reasons) of a special item on ``base``, the burden still to pay."""
    # PolicySpec.from_dict guarantees ``amount`` for fixed items and ``rate`` for rate items.
    if item.kind == "fixed":
        fixed = item.amount if item.amount is not None else ZERO
        amount = fixed if fixed < base else base  # never more than is left to pay
    else:
        amount = (base * (item.rate if item.rate is not None else ZERO)).quantize(CENT, ROUND_HALF_UP)
    bucket = item.bucket
    if bucket is not None and bucket.cap is not None:
        room = bucket.cap - used.get(bucket.name, ZERO)
        if room < amount:
            amount = room if room > ZERO else ZERO
            return amount, ("cap_limited",) if amount else ("cap_exhausted",)
    return amount, ()


def _special_detail(item: SpecialItem) -> str:
    if item.kind == "fixed":
        return f"定额 {item.amount} 元"
    text = f"个人负担 × {percent_str(item.rate if item.rate is not None else ZERO)}"
    if item.bucket is not None and item.bucket.cap is not None:
        text += f"，年度限额 {item.bucket.cap} 元"
    return text


def _commit(policy: PolicySpec, state: YearState, result: BillResult, flags: Flags) -> None:
    """Record the paid result in the person's year (caller holds the person-year lock)."""
    used = state.bucket_used
    if result.deductible:
        state.deductible_used += result.deductible
    count_uncapped = policy.count_uncapped
    for name, cap, _before, _after, drawn, _clause in result[13]:  # the bucket rows (BillResult)
        # caps.count "capped_tiers" (POLICY.md §9): a payment counts against a bucket's cap only
        # when the paying tier carries that bucket with a cap.
        if cap is not None or count_uncapped:
            used[name] = used.get(name, ZERO) + drawn
    for _kind, _code, _label, amount, _detail, _clause, bucket in result[16]:  # the item rows
        if bucket is not None and amount:
            used[bucket] = used.get(bucket, ZERO) + amount
    spec = policy.tilted
    if spec is not None and _flags_match(flags, spec.required_flags):
        state.tilted_base += result.burden - result.assistance - result.special


# --------------------------------------------------------------------------------------------
# Precompiled evaluation plans (issue 20)
# --------------------------------------------------------------------------------------------


class _Kernel:
    """What one category × visit rule needs at run time, resolved once per policy.

    ``fast``: the bill can take :func:`_compute_fast` (a tier without required flags, at most one
    bucket drawn, no special item that could apply to this visit type and category); otherwise
    (and whenever one of ``candidates`` applies to the bill) the general :func:`_compute` runs.
    Both give the same result; tests/policies/engine/test_issue20_fast_path.py holds them equal.
    """

    __slots__ = ("entry", "plan", "fast", "candidates", "rate", "deductible", "tier", "draw", "counts",
                 "category", "tier_code", "visit_class", "clauses", "tilted_clauses")

    def __init__(self, policy: PolicySpec, entry: tuple, plan: Plan, visit_type: str | None) -> None:
        tier: Tier = entry[2]
        self.entry = entry
        self.plan = plan
        self.tier = tier
        self.category = plan.category
        self.tier_code = plan.tier_code
        self.visit_class = plan.visit_class
        self.clauses = plan.clauses
        # the clauses of a result that also pays tilted assistance (as _compute lists them)
        self.tilted_clauses = plan.clauses if policy.tilted is None else tuple(
            dict.fromkeys(plan.clauses + (policy.tilted.clause,)))
        self.rate = plan.rate
        self.deductible = tier.deductible.kind != "none"
        # special items whose static conditions (visit type, category) hold here; their flag and
        # disability-grade conditions are checked per bill
        self.candidates: tuple[SpecialItem, ...] = tuple(
            item for item in policy.special_items
            if (item.visit_types is None or visit_type in item.visit_types)
            and (item.categories is None or plan.category in item.categories))
        draws = plan.draws
        self.draw = draws[0] if len(draws) == 1 else None
        # whether the drawn amount counts against the bucket (caps.count, POLICY.md §9)
        self.counts = self.draw is not None and (self.draw[1] is not None or policy.count_uncapped)
        self.fast = visit_type is not None and not tier.required_flags and len(draws) <= 1


class _Compiled:
    """A policy's evaluation plan: visit type → {category: :class:`_Kernel`}."""

    __slots__ = ("policy", "always", "ruled", "no_rule", "gate_clauses", "effective_from", "effective_to",
                 "designated_required", "referral_required", "eom", "tilted", "tilted_detail", "tilted_bucket")

    def __init__(self, policy: PolicySpec) -> None:
        self.policy = policy
        category_plan = policy.category_plan

        def kernels(plans: dict[str, Plan], visit_type: str | None) -> dict[str, _Kernel]:
            return {category: _Kernel(policy, category_plan[category], plan, visit_type)
                    for category, plan in plans.items()}

        # visit types whose first rule has no flag condition: the lookup is one dict access
        self.always: dict[str, dict[str, _Kernel]] = {}
        self.ruled: dict[str, tuple[tuple[tuple[tuple[str, bool], ...], dict[str, _Kernel]], ...]] = {}
        for visit_type, rules in policy.visit_table.items():
            if not rules[0][0]:
                self.always[visit_type] = kernels(rules[0][2], visit_type)
            else:
                self.ruled[visit_type] = tuple((when, kernels(plans, visit_type)) for when, _, plans in rules)
        self.no_rule = kernels(policy.no_rule_plans, None)
        self.gate_clauses: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.effective_from = policy.effective_from
        self.effective_to = policy.effective_to
        self.designated_required = policy.designated.required
        self.referral_required = policy.referral.required
        self.eom = policy.end_of_month
        spec = self.tilted = policy.tilted
        self.tilted_detail = "" if spec is None else \
            f"年度累计个人负担超过 {spec.threshold} 元部分按 {percent_str(spec.rate)}"
        self.tilted_bucket = None if spec is None or spec.cap is None else "tilted"

    def kernels_for(self, visit_type: str, flags: Flags) -> dict[str, _Kernel]:
        """As :meth:`PolicySpec.visit_match`: the first rule matching the visit type and flags."""
        found = self.always.get(visit_type)
        if found is not None:
            return found
        for when, kernels in self.ruled.get(visit_type, ()):
            if not when or _flags_match(flags, when):
                return kernels
        return self.no_rule


_COMPILED: dict[int, _Compiled] = {}


def compiled(policy: PolicySpec) -> _Compiled:
    """The policy's evaluation plan, built on first use (kept for the 256 policies used last)."""
    found = _COMPILED.get(id(policy))
    if found is None or found.policy is not policy:
        if len(_COMPILED) >= 256:
            _COMPILED.clear()
        found = _COMPILED[id(policy)] = _Compiled(policy)
    return found


def _gate_fast(c: _Compiled, bill: BillIn, burden: Decimal, reasons: tuple[str, ...]) -> BillResult:
    """:func:`_gate` with the policy's gate plan, its clauses looked up once per reason set."""
    plan = c.policy.gate_plan
    clauses = c.gate_clauses.get(reasons)
    if clauses is None:
        found = plan.reason_clauses
        clauses = c.gate_clauses[reasons] = tuple(dict.fromkeys(found[r] for r in reasons if found.get(r)))
    return _new(BillResult, (bill.id, None, ZERO, ZERO, ZERO, ZERO, None, None, None, burden,
                             ZERO, None, ZERO, (), reasons, clauses, (), plan))


def _compute_fast(c: _Compiled, k: _Kernel, bill: BillIn, burden: Decimal, state: YearState,
                  stats: RegionStats, commit: bool) -> BillResult:
    """:func:`_compute` for a ``fast`` kernel and a bill no special item applies to.

    A dry run when ``commit`` is false; otherwise the paid result is also recorded in ``state``
    exactly as :func:`_commit` records it (the caller holds the person-year lock).
    """
    rate = k.rate
    reasons: tuple[str, ...] = ()
    deductible = raw = assistance = ZERO
    buckets: tuple[tuple[Any, ...], ...] = ()
    draw = None
    used = state.bucket_used
    if rate is not None:
        if k.deductible:
            left = _deductible_amount(k.tier, bill.end.year, stats) - state.deductible_used
            if left > ZERO:
                deductible = burden if burden < left else left
                if deductible:
                    reasons = ("deductible",)
            raw = ((burden - deductible) * rate).quantize(CENT, ROUND_HALF_UP)
        else:
            raw = (burden * rate).quantize(CENT, ROUND_HALF_UP)
        assistance = total = raw  # raw is quantized: its exponent is -2, so raw + 0.00 + 0.00 is raw
        draw = k.draw
        if draw is not None:
            name, cap, clause = draw
            if cap is None:
                buckets = ((name, None, None, None, assistance, clause),)
            else:
                room = cap - used.get(name, ZERO)
                if room < ZERO:
                    room = ZERO
                if room < assistance:
                    assistance = room
                    total = room + ZERO  # the room's exponent is whatever the cap's and the state's give
                    reasons += ("cap_limited",) if assistance else ("cap_exhausted",)
                buckets = ((name, cap, room, room - assistance, assistance, clause),)
    else:
        total = ZERO
        reasons = ("visit_not_covered",)
    spec = c.tilted
    if spec is None or not _flags_match(bill.flags, spec.required_flags):
        if commit:
            if deductible:
                state.deductible_used += deductible
            if k.counts:
                name = draw[0]  # type: ignore[index]
                used[name] = used.get(name, ZERO) + assistance
        return _new(BillResult, (bill.id, None, assistance, ZERO, ZERO, total, k.category,
                                 k.tier_code, k.visit_class, burden, deductible, rate, raw, buckets, reasons,
                                 k.clauses, (), k.plan))
    tilted, reasons = _tilted_amount(spec, state, burden - assistance, used, reasons)
    clauses = k.clauses
    items: tuple[tuple[Any, ...], ...] = ()
    if tilted:
        items = (("tilted", "tilted", "倾斜救助", tilted, c.tilted_detail, spec.clause, c.tilted_bucket),)
        clauses = k.tilted_clauses
    if commit:
        if deductible:
            state.deductible_used += deductible
        if k.counts:
            name = draw[0]  # type: ignore[index]
            used[name] = used.get(name, ZERO) + assistance
        if tilted and c.tilted_bucket is not None:
            used["tilted"] = used.get("tilted", ZERO) + tilted
        state.tilted_base += burden - assistance - ZERO
    return _new(BillResult, (bill.id, None, assistance, tilted, ZERO, assistance + tilted + ZERO, k.category,
                             k.tier_code, k.visit_class, burden, deductible, rate, raw, buckets, reasons,
                             clauses, items, k.plan))


def _applies_any(k: _Kernel, bill: BillIn, person: PersonIn) -> bool:
    category = k.category
    for item in k.candidates:
        if _special_applies(item, category, bill, person):
            return True
    return False


def _entries(policy: PolicySpec, person: PersonIn) -> tuple[tuple[date, date | None, str], ...]:
    """(valid_from, last covered day, category) of the person's mapped certifications."""
    category_plan = policy.category_plan
    out = []
    eom = policy.end_of_month
    for cert in person.certifications:
        category = cert.category
        if category not in category_plan:
            continue
        until = cert.valid_until
        if until is not None and eom:
            until = month_end(until)
        out.append((cert.valid_from, until, category))
    return tuple(out)


def _assess(c: _Compiled, person: PersonIn, entries: tuple, bill: BillIn, state: YearState,
            stats: RegionStats) -> BillResult:
    start = bill.start
    end = bill.end
    # bill_burden, inlined
    total = bill.total_cost
    scope = bill.policy_scope_cost
    basic = bill.basic_paid
    critical = bill.critical_paid
    other = bill.other_paid
    D = Decimal
    if not (type(total) is D and type(scope) is D and type(basic) is D and type(critical) is D
            and type(other) is D):
        burden = bill_burden(bill)
        if burden is None:
            return _error(bill, "invalid_amounts")
    else:
        try:
            if not (MAX_AMOUNT >= total >= scope >= basic + critical and basic >= ZERO and critical >= ZERO
                    and MAX_AMOUNT >= other >= ZERO):
                return _error(bill, "invalid_amounts")
            burden = scope - basic - critical - other
        except InvalidOperation:  # NaN
            return _error(bill, "invalid_amounts")
        burden = ZERO if burden <= ZERO else burden.quantize(CENT, ROUND_HALF_UP)
    if end < c.effective_from or (c.effective_to is not None and end > c.effective_to):
        return _gate_fast(c, bill, burden, ("outside_policy_period",))

    # Categories whose coverage window overlaps the stay (POLICY.md §2): ``first``, and the list
    # ``covering`` only when there are several.
    first = None
    covering = None
    for valid_from, until, category in entries:
        if valid_from <= end and (until is None or until >= start):
            if first is None:
                first = category
            elif covering is None:
                if category != first:
                    covering = [first, category]
            elif category not in covering:
                covering.append(category)
    flags = bill.flags
    if first is None or not flags.designated or not flags.referral_compliant:
        gates: tuple[str, ...] = () if first is not None else ("not_eligible",)
        if not flags.designated and c.designated_required:
            gates += ("non_designated",)
        if not flags.referral_compliant and c.referral_required:
            gates += ("unreferred",)
        if gates:
            return _gate_fast(c, bill, burden, gates)

    kernels = c.always.get(bill.visit_type)
    if kernels is None:
        kernels = c.kernels_for(bill.visit_type, flags)

    policy = c.policy
    if covering is None:
        k = kernels[first]  # type: ignore[index]  # not None: no category is gated above
        try:
            if k.fast and not (k.candidates and _applies_any(k, bill, person)):
                return _compute_fast(c, k, bill, burden, state, stats, True)
            else:
                best = _compute(policy, k.entry, k.plan, bill, burden, state, stats, person)
        except MissingStatisticError:
            return _error(bill, "missing_statistic", burden)
    else:
        # 就高不就低, 不得重复: compute under each identity, pay the highest once; ties go to the
        # eligible one, then to the earlier tier/mapping (deterministic). An identity whose
        # deductible needs an unrecorded statistic is set aside (国办 四(五), POLICY.md §9); the bill
        # is an error only when no identity can be computed.
        best = None
        best_key = None
        set_aside = False
        for category in covering:
            k = kernels[category]
            try:
                if k.fast and not (k.candidates and _applies_any(k, bill, person)):
                    result = _compute_fast(c, k, bill, burden, state, stats, False)
                else:
                    result = _compute(policy, k.entry, k.plan, bill, burden, state, stats, person)
            except MissingStatisticError:
                set_aside = True
                continue
            key = (result.total, "not_eligible" not in result.reasons, -k.entry[0])
            if best_key is None or key > best_key:
                best, best_key = result, key
        if best is None:
            return _error(bill, "missing_statistic", burden)
        if set_aside:
            best = _new(BillResult, (*best[:14], best[14] + ("identity_set_aside",), *best[15:]))
    if "not_eligible" not in best.reasons:  # type: ignore[union-attr]
        _commit(policy, state, best, flags)  # type: ignore[arg-type]
    return best  # type: ignore[return-value]


def assess_bill(policy: PolicySpec, person: PersonIn, bill: BillIn, state: YearState,
                stats: RegionStats = EMPTY_STATS) -> BillResult:
    """Assess one bill and update ``state`` (the person's year of ``bill.end``) in place.

    Bad data never raises: inconsistent amounts give ``error="invalid_amounts"``, a start after
    the end ``"invalid_dates"``, a deductible needing an unrecorded statistic
    ``"missing_statistic"``; ``state`` is then left as it was.
    """
    start = bill.start
    end = bill.end
    if type(start) is not date or type(end) is not date or start > end:
        return _error(bill, "invalid_dates")
    if state.year != end.year:
        raise ValueError(f"state is for {state.year}, bill {bill.id} settles in {end.year}")
    return _assess(compiled(policy), person, _entries(policy, person), bill, state, stats)


def assess_bills(policy: PolicySpec, person: PersonIn, bills: Sequence[BillIn],
                 states: dict[int, YearState] | None = None,
                 stats: RegionStats = EMPTY_STATS) -> list[BillResult]:
    """Assess a person's bills in settlement order (``end``, then input order).

    ``states`` holds the person's :class:`YearState` per calendar year; missing years are created
    empty (and added to the dict, so the caller can persist them). Results come back in INPUT order.
    """
    if states is None:
        states = {}
    c = compiled(policy)
    entries = _entries(policy, person)
    count = len(bills)
    if count == 1:
        order: Sequence[int] = (0,)
    else:
        ends = [b.end for b in bills]
        try:
            order = sorted(range(count), key=ends.__getitem__)
        except TypeError:  # a bill with a bad date: its place does not matter, it is an error
            order = sorted(range(count), key=lambda i: _safe_end(bills[i]))
    results: list[BillResult] = [None] * count  # type: ignore[list-item]
    for index in order:
        bill = bills[index]
        start = bill.start
        end = bill.end
        if type(start) is not date or type(end) is not date or start > end:
            results[index] = _error(bill, "invalid_dates")
            continue
        year = end.year
        state = states.get(year)
        if state is None:
            state = states[year] = YearState(year)
        results[index] = _assess(c, person, entries, bill, state, stats)
    return results


def _safe_end(bill: BillIn) -> date:
    end = getattr(bill, "end", None)
    return end if type(end) is date else date.min


# --------------------------------------------------------------------------------------------
# Premium subsidy (资助参保, POLICY.md §5)
# --------------------------------------------------------------------------------------------


def premium_subsidy(policy: PolicySpec, person: PersonIn, on: date,
                    contribution: Decimal | None) -> SubsidyResult:
    """The subsidy of the individual contribution for the categories held on ``on``.

    Several identities: the highest share wins (a full subsidy before a 100% fraction, then rule
    order). ``amount`` = round(contribution × share), None when no contribution is given.
    """
    held = categories_on(policy, person, on)
    best = None
    for index, rule in enumerate(policy.premium_subsidies.rules):
        for category in rule.categories:
            if category in held:
                key = (rule.share, rule.kind == "full", -index)
                if best is None or key > best[0]:
                    best = (key, rule, category)
                break
    if best is None:
        return SubsidyResult(category=None, kind=None, share=ZERO, amount=None if contribution is None else ZERO,
                             clause=None)
    _, rule, category = best
    amount = None if contribution is None else round_money(to_decimal(contribution) * rule.share)
    return SubsidyResult(category=category, kind=rule.kind, share=rule.share, amount=amount, clause=rule.clause)


def subsidy_timing(policy: PolicySpec, approved_on: date, already_paid_this_year: bool) -> SubsidyTimingResult:
    """When the subsidy applies and cover starts for a beneficiary approved on ``approved_on``.

    Ningbo (甬医保发〔2019〕27号 三(一)): subsidised in the month of approval, covered from the
    next month; who already paid this year is subsidised from next year. Without a timing rule:
    subsidised this year, covered from the approval date.

    The subsidy pays the contribution of the year cover starts in: a December approval
    ("当月资助参保，次月生效") is covered from 1 January, so it is next year's contribution that is
    subsidised (not this year's as well: the person would otherwise be on two years' rosters).
    """
    timing = policy.premium_subsidies.timing
    if timing is None:
        return SubsidyTimingResult(approved_on.year, approved_on, None)
    if already_paid_this_year and timing.if_already_paid == "next_year":
        return SubsidyTimingResult(approved_on.year + 1, date(approved_on.year + 1, 1, 1), timing.clause)
    covered = approved_on
    if timing.covered_from == "next_month":
        covered = month_end(approved_on) + timedelta(days=1)
    return SubsidyTimingResult(covered.year, covered, timing.clause)


# --------------------------------------------------------------------------------------------
# Early warning (预警监测, POLICY.md §6)
# --------------------------------------------------------------------------------------------


def warning_kind(policy: PolicySpec, categories_held: set[str] | frozenset[str], annual_burden: Decimal,
                 stats: RegionStats, year: int) -> WarningResult:
    """Which warning a household's annual burden (of ``year``) raises, with the threshold used.

    The first warning rule whose categories match decides: ``return_to_poverty`` for households
    holding one of its categories, ``illness_poverty`` for households holding none. The burden
    must EXCEED the threshold (share × the statistic of ``year + year_offset``). A statistic that
    is not recorded raises :class:`MissingStatisticError` (never read as zero).
    """
    held = {c for c in categories_held if c in CATEGORIES}
    for rule in policy.warnings:
        if rule.categories is None:
            applies = not held
        else:
            applies = any(c in held for c in rule.categories)
        if not applies:
            continue
        threshold = round_money(statistic(stats, year + rule.year_offset, rule.statistic) * rule.share)
        if to_decimal(annual_burden) > threshold:
            return WarningResult(rule.kind, threshold, rule.clause)
        return WarningResult(None, threshold, rule.clause)
    return WarningResult(None, None, None)

