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

from .money import CENT, MAX_AMOUNT, ZERO, round_money, to_decimal
from .types import (
    CATEGORIES,
    BillIn,
    BillResult,
    BucketLine,
    ItemLine,
    MissingStatisticError,
    PersonIn,
    Plan,
    PolicySpec,
    RegionStats,
    SubsidyResult,
    SubsidyTimingResult,
    Tier,
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


class _MissingStatistic(Exception):
    pass


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
    if value is None:
        raise MissingStatisticError(year, name)
    return value if type(value) is Decimal else to_decimal(value)


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
    rule = policy.visit_rule_for(bill)
    return None if rule is None else rule.visit_class


# --------------------------------------------------------------------------------------------
# Results without a computation
# --------------------------------------------------------------------------------------------


def _error(bill: BillIn, error: str, burden: Decimal = ZERO) -> BillResult:
    return BillResult(
        bill_id=getattr(bill, "id", ""), error=error, assistance=ZERO, tilted=ZERO, special=ZERO, total=ZERO,
        category=None, tier=None, visit_class=None, burden=burden, deductible=ZERO, rate=None, raw=ZERO,
        buckets=(), reasons=(error,), clauses=(), items=(), plan=None,
    )


def _gate(policy: PolicySpec, bill: BillIn, burden: Decimal, reasons: tuple[str, ...],
          plan: Plan | None = None, visit_class: str | None = None) -> BillResult:
    """Zero result for a bill that no rule covers (not eligible, non-designated, unreferred...)."""
    plan = plan or policy.gate_plan
    clauses = tuple(dict.fromkeys(plan.reason_clauses.get(r, "") for r in reasons if plan.reason_clauses.get(r)))
    tier = plan.tier
    return BillResult(
        bill_id=bill.id, error=None, assistance=ZERO, tilted=ZERO, special=ZERO, total=ZERO,
        category=plan.category, tier=None if tier is None else tier.code, visit_class=visit_class,
        burden=burden, deductible=ZERO, rate=None, raw=ZERO, buckets=(), reasons=reasons, clauses=clauses,
        items=(), plan=plan,
    )


# --------------------------------------------------------------------------------------------
# The calculation
# --------------------------------------------------------------------------------------------


def _deductible_amount(tier: Tier, year: int, stats: RegionStats) -> Decimal:
    ded = tier.deductible
    if ded.kind == "fixed":
        return ded.amount  # type: ignore[return-value]
    try:
        value = stats[year + ded.year_offset][ded.statistic]  # type: ignore[index]
    except (KeyError, TypeError, IndexError):
        raise _MissingStatistic from None
    if value is None:
        raise _MissingStatistic
    if type(value) is not Decimal:
        value = to_decimal(value)
    return (value * ded.share).quantize(CENT, ROUND_HALF_UP)


def _compute(policy: PolicySpec, entry: tuple, plan: Plan, bill: BillIn, burden: Decimal,
             state: YearState, stats: RegionStats, person: PersonIn) -> tuple:
    """Dry run under one category: returns the figures; ``state`` is not changed.

    Returns (total, rank, plan, assistance, tilted, special, deductible, raw, rooms, reasons,
    specials, tilted_add, eligible) where rooms = ((name, cap, bucket, room_before), ...),
    specials = ((item, amount, room_before), ...), tilted_add = remaining burden added to the
    tilted base (None: bill not tilted-eligible).
    """
    rank, ct, tier = entry
    flags = bill.flags
    if tier.required_flags and not _flags_match(flags, tier.required_flags):
        return (ZERO, rank, plan, ZERO, ZERO, ZERO, ZERO, ZERO, (), ["not_eligible"], (), None, False)
    reasons: list[str] = []
    used = state.bucket_used
    assistance = ZERO
    deductible = ZERO
    raw = ZERO
    rooms: tuple = ()
    specials: list = []
    special = ZERO
    exclusive = None
    if policy.exclusive_specials:
        for item in policy.exclusive_specials:
            if _special_applies(item, ct.category, bill, person):
                exclusive = item
                break
    if exclusive is not None:
        amount, room = _special_amount(exclusive, burden, used, reasons)
        specials.append((exclusive, amount, room))
        special = amount
    else:
        class_rate = plan.class_rate
        if class_rate is not None:
            if tier.deductible.kind != "none":
                left = _deductible_amount(tier, bill.end.year, stats) - state.deductible_used
                if left > ZERO:
                    deductible = burden if burden < left else left
                    if deductible:
                        reasons.append("deductible")
            raw = ((burden - deductible) * class_rate.rate).quantize(CENT, ROUND_HALF_UP)
            assistance = raw
            draws = tier._draws[class_rate.visit_class]
            if draws:
                room_list = []
                for name, cap, bucket in draws:
                    if cap is None:
                        room_list.append((name, cap, bucket, None))
                        continue
                    room = cap - used.get(name, ZERO)
                    if room < ZERO:
                        room = ZERO
                    room_list.append((name, cap, bucket, room))
                    if room < assistance:
                        assistance = room
                rooms = tuple(room_list)
                if assistance < raw:
                    reasons.append("cap_limited" if assistance > ZERO else "cap_exhausted")
        if policy.other_specials:
            remaining = burden - assistance
            for item in policy.other_specials:
                if remaining <= ZERO:
                    break
                if _special_applies(item, ct.category, bill, person):
                    amount, room = _special_amount(item, remaining, used, reasons)
                    specials.append((item, amount, room))
                    special += amount
                    remaining -= amount
        if class_rate is None and not specials:
            reasons.append("visit_not_covered")
    tilted = ZERO
    tilted_add = None
    spec = policy.tilted
    if spec is not None and _flags_match(flags, spec.required_flags):
        tilted_add = burden - assistance - special
        before = state.tilted_base
        after = before + tilted_add
        threshold = spec.threshold
        over_after = after - threshold if after > threshold else ZERO
        over_before = before - threshold if before > threshold else ZERO
        if over_after > over_before:
            tilted = ((over_after - over_before) * spec.rate).quantize(CENT, ROUND_HALF_UP)
            if spec.cap is not None:
                room = spec.cap - used.get("tilted", ZERO)
                if room < tilted:
                    tilted = room if room > ZERO else ZERO
                    reasons.append("cap_limited" if tilted > ZERO else "cap_exhausted")
    total = assistance + tilted + special
    return (total, rank, plan, assistance, tilted, special, deductible, raw, rooms, reasons, tuple(specials),
            tilted_add, True)


def _special_applies(item, category: str, bill: BillIn, person: PersonIn) -> bool:
    if item.visit_types is not None and bill.visit_type not in item.visit_types:
        return False
    if item.required_flags and not _flags_match(bill.flags, item.required_flags):
        return False
    if item.categories is not None and category not in item.categories:
        return False
    if item.disability_grades is not None and person.disability_grade not in item.disability_grades:
        return False
    return True


def _special_amount(item, base: Decimal, used: dict[str, Decimal],
                    reasons: list[str]) -> tuple[Decimal, Decimal | None]:
    """(amount, bucket room before) of a special item on ``base`` (the remaining burden)."""
    if item.kind == "fixed":
        amount = item.amount if item.amount < base else base  # never more than is left to pay
    else:
        amount = (base * item.rate).quantize(CENT, ROUND_HALF_UP)
    room = None
    bucket = item.bucket
    if bucket is not None and bucket.cap is not None:
        room = bucket.cap - used.get(bucket.name, ZERO)
        if room < ZERO:
            room = ZERO
        if amount > room:
            amount = room
            reasons.append("cap_limited" if amount > ZERO else "cap_exhausted")
    return amount, room


def _commit(state: YearState, calc: tuple, tilted_spec) -> None:
    """Apply the chosen computation to the person's year (caller holds the person-year lock)."""
    (_, _, _, assistance, tilted, special, deductible, _, rooms, _, specials, tilted_add, _) = calc
    used = state.bucket_used
    if deductible:
        state.deductible_used += deductible
    if assistance:
        for name, _, _, _ in rooms:
            used[name] = used.get(name, ZERO) + assistance
    elif rooms:
        for name, _, _, _ in rooms:
            if name not in used:
                used[name] = ZERO
    for item, amount, _ in specials:
        if item.bucket is not None and amount:
            used[item.bucket.name] = used.get(item.bucket.name, ZERO) + amount
    if tilted_add is not None:
        state.tilted_base += tilted_add
        if tilted and tilted_spec is not None and tilted_spec.cap is not None:
            used["tilted"] = used.get("tilted", ZERO) + tilted


def _result(bill: BillIn, burden: Decimal, calc: tuple, tilted_spec) -> BillResult:
    (total, _, plan, assistance, tilted, special, deductible, raw, rooms, reasons, specials, tilted_add,
     _) = calc
    tier = plan.tier
    class_rate = plan.class_rate
    buckets = tuple(
        BucketLine(name, cap, room, None if room is None else room - assistance, assistance, bucket.clause)
        for name, cap, bucket, room in rooms
    )
    clauses = plan.clauses
    items: tuple[ItemLine, ...] = ()
    if specials or tilted:
        lines = [ItemLine("special", item.code, item.label_zh, amount, _special_detail(item), item.clause)
                 for item, amount, _ in specials]
        if tilted_add is not None and tilted:
            lines.append(ItemLine("tilted", "tilted", "倾斜救助", tilted,
                                  f"年度累计个人负担超过 {tilted_spec.threshold} 元部分按 "
                                  f"{tilted_spec.rate * 100:.0f}%", tilted_spec.clause))
        items = tuple(lines)
        clauses = tuple(dict.fromkeys(clauses + tuple(i.clause for i in items)))
    return BillResult(
        bill_id=bill.id, error=None, assistance=assistance, tilted=tilted, special=special, total=total,
        category=plan.category, tier=tier.code if tier is not None else None,
        visit_class=plan.visit_rule.visit_class if plan.visit_rule is not None else None,
        burden=burden, deductible=deductible, rate=class_rate.rate if class_rate is not None else None,
        raw=raw, buckets=buckets, reasons=tuple(reasons), clauses=clauses, items=items, plan=plan,
    )


def _special_detail(item) -> str:
    if item.kind == "fixed":
        return f"定额 {item.amount} 元"
    text = f"个人负担 × {item.rate * 100:.0f}%"
    if item.bucket is not None and item.bucket.cap is not None:
        text += f"，年度限额 {item.bucket.cap} 元"
    return text


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
    burden = bill_burden(bill)
    if burden is None:
        return _error(bill, "invalid_amounts")
    if end < policy.effective_from or (policy.effective_to is not None and end > policy.effective_to):
        return _gate(policy, bill, burden, ("outside_policy_period",))

    # Categories whose coverage window overlaps the stay, mapped to a tier (POLICY.md §2).
    category_plan = policy.category_plan
    entries: list | None = None
    eom = policy.end_of_month
    for cert in person.certifications:
        if cert.valid_from > end:
            continue
        until = cert.valid_until
        if until is not None:
            if eom:
                until = month_end(until)
            if until < start:
                continue
        entry = category_plan.get(cert.category)
        if entry is None:
            continue
        if entries is None:
            entries = [entry]
        elif entry not in entries:
            entries.append(entry)

    flags = bill.flags
    gates: tuple[str, ...] = ()
    if entries is None:
        gates = ("not_eligible",)
    if policy.designated.required and not flags.designated:
        gates += ("non_designated",)
    if policy.referral.required and not flags.referral_compliant:
        gates += ("unreferred",)
    if gates:
        return _gate(policy, bill, burden, gates)

    plans = policy.no_rule_plans
    for when, rule, rule_plans in policy.visit_table.get(bill.visit_type, ()):
        if not when or _flags_match(flags, when):
            plans = rule_plans
            break

    try:
        if len(entries) == 1:  # type: ignore[arg-type]
            entry = entries[0]  # type: ignore[index]
            best = _compute(policy, entry, plans[entry[1].category], bill, burden, state, stats, person)
        else:
            # 就高不就低, 不得重复: compute under each identity, pay the highest once.
            best = None
            for entry in entries:  # type: ignore[union-attr]
                calc = _compute(policy, entry, plans[entry[1].category], bill, burden, state, stats, person)
                if best is None or calc[0] > best[0] or (calc[0] == best[0] and (
                        (calc[12] and not best[12]) or (calc[12] == best[12] and calc[1] < best[1]))):
                    best = calc
    except _MissingStatistic:
        return _error(bill, "missing_statistic", burden)
    if not best[12]:  # type: ignore[index]
        plan = best[2]  # type: ignore[index]
        return _gate(policy, bill, burden, tuple(best[9]), plan, None)  # type: ignore[index]
    _commit(state, best, policy.tilted)
    return _result(bill, burden, best, policy.tilted)


def assess_bills(policy: PolicySpec, person: PersonIn, bills: Sequence[BillIn],
                 states: dict[int, YearState] | None = None,
                 stats: RegionStats = EMPTY_STATS) -> list[BillResult]:
    """Assess a person's bills in settlement order (``end``, then input order).

    ``states`` holds the person's :class:`YearState` per calendar year; missing years are created
    empty (and added to the dict, so the caller can persist them). Results come back in INPUT order.
    """
    if states is None:
        states = {}
    count = len(bills)
    if count == 1:
        order: Sequence[int] = (0,)
    else:
        try:
            order = sorted(range(count), key=lambda i: bills[i].end)
        except TypeError:  # a bill with a bad date: its place does not matter, it is an error
            order = sorted(range(count), key=lambda i: _safe_end(bills[i]))
    results: list[BillResult] = [None] * count  # type: ignore[list-item]
    for index in order:
        bill = bills[index]
        end = bill.end
        if type(end) is not date:
            results[index] = _error(bill, "invalid_dates")
            continue
        year = end.year
        state = states.get(year)
        if state is None:
            state = states[year] = YearState(year)
        results[index] = assess_bill(policy, person, bill, state, stats)
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
    """
    timing = policy.premium_subsidies.timing
    if timing is None:
        return SubsidyTimingResult(approved_on.year, approved_on, None)
    if already_paid_this_year and timing.if_already_paid == "next_year":
        return SubsidyTimingResult(approved_on.year + 1, date(approved_on.year + 1, 1, 1), timing.clause)
    covered = approved_on
    if timing.covered_from == "next_month":
        covered = month_end(approved_on) + timedelta(days=1)
    return SubsidyTimingResult(approved_on.year, covered, timing.clause)


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

