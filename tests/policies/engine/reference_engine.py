# ruff: noqa: SIM103, SIM110
"""FROZEN REFERENCE: the engine's exact Decimal bill path as it stood before issue 20 (commit 4249c09).

Not used by the product. The property test (test_issue20_fast_path.py) checks that the
precompiled fast path in policies/engine/engine.py gives results equal to these, field by field,
explanation lines included. Do not edit: it is the oracle.

Original docstring: per-bill assistance (POLICY.md §1–§3), premium subsidy (§5) and early warnings (§6).

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

from policies.engine.money import CENT, MAX_AMOUNT, ZERO, percent_str, round_money, to_decimal
from policies.engine.types import (
    CATEGORIES,
    BillIn,
    BillResult,
    BucketLine,
    Flags,
    ItemLine,
    MissingStatisticError,
    PersonIn,
    Plan,
    PolicySpec,
    RegionStats,
    SpecialItem,
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

_new = tuple.__new__  # builds the NamedTuple records in C (see types.BillResult)


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
    buckets: tuple[BucketLine, ...] = ()
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
                    buckets = (_new(BucketLine, (name, None, None, None, assistance, clause)),)
                else:
                    room = cap - used.get(name, ZERO)
                    if room < ZERO:
                        room = ZERO
                    if room < assistance:
                        assistance = room
                        reasons += ("cap_limited",) if assistance else ("cap_exhausted",)
                    buckets = (_new(BucketLine, (name, cap, room, room - assistance, assistance, clause)),)
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
                    _new(BucketLine, (name, cap, room, None if room is None else room - assistance, assistance, clause))
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
                buckets = tuple(b._replace(room_after=b.room_before, drawn=ZERO) for b in buckets)
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
        # 倾斜救助: rate × the growth of the year's remaining burden above the threshold
        before = state.tilted_base
        after = before + (burden - assistance - special)
        threshold = spec.threshold
        if after > threshold:
            over = after - threshold if before <= threshold else after - before
            tilted = (over * spec.rate).quantize(CENT, ROUND_HALF_UP)
            if spec.cap is not None:
                room = spec.cap - used.get("tilted", ZERO)
                if room < tilted:
                    tilted = room if room > ZERO else ZERO
                    reasons += ("cap_limited",) if tilted else ("cap_exhausted",)
    clauses = plan.clauses
    items: tuple[ItemLine, ...] = ()
    if specials is not None or tilted:
        lines = [_new(ItemLine, ("special", item.code, item.label_zh, amount, _special_detail(item), item.clause,
                                 None if item.bucket is None else item.bucket.name))
                 for item, amount in specials or ()]
        if tilted:
            lines.append(_new(ItemLine, ("tilted", "tilted", "倾斜救助", tilted,
                                         f"年度累计个人负担超过 {spec.threshold} 元部分按 {percent_str(spec.rate)}",  # type: ignore[union-attr]
                                         spec.clause, None if spec.cap is None else "tilted")))  # type: ignore[union-attr]
        items = tuple(lines)
        clauses = tuple(dict.fromkeys(clauses + tuple(i.clause for i in items)))
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
    for line in result.buckets:
        # caps.count "capped_tiers" (POLICY.md §9): a payment counts against a bucket's cap only
        # when the paying tier carries that bucket with a cap.
        if line.cap is not None or count_uncapped:
            name = line.name
            used[name] = used.get(name, ZERO) + line.drawn
    for item in result.items:
        if item.bucket is not None and item.amount:
            used[item.bucket] = used.get(item.bucket, ZERO) + item.amount
    spec = policy.tilted
    if spec is not None and _flags_match(flags, spec.required_flags):
        state.tilted_base += result.burden - result.assistance - result.special


def _entries(policy: PolicySpec, person: PersonIn) -> tuple[tuple[date, date | None, tuple], ...]:
    """(valid_from, last covered day, category plan) of the person's mapped certifications."""
    category_plan = policy.category_plan
    out = []
    eom = policy.end_of_month
    for cert in person.certifications:
        entry = category_plan.get(cert.category)
        if entry is None:
            continue
        until = cert.valid_until
        if until is not None and eom:
            until = month_end(until)
        out.append((cert.valid_from, until, entry))
    return tuple(out)


def _assess(policy: PolicySpec, person: PersonIn, entries: tuple, bill: BillIn, state: YearState,
            stats: RegionStats) -> BillResult:
    start = bill.start
    end = bill.end
    burden = bill_burden(bill)
    if burden is None:
        return _error(bill, "invalid_amounts")
    if end < policy.effective_from or (policy.effective_to is not None and end > policy.effective_to):
        return _gate(policy, bill, burden, ("outside_policy_period",))

    # Categories whose coverage window overlaps the stay (POLICY.md §2).
    covering = None
    for valid_from, until, entry in entries:
        if valid_from <= end and (until is None or until >= start):
            if covering is None:
                covering = [entry]
            elif entry not in covering:
                covering.append(entry)
    flags = bill.flags
    if covering is None or not flags.designated or not flags.referral_compliant:
        gates: tuple[str, ...] = () if covering is not None else ("not_eligible",)
        if not flags.designated and policy.designated.required:
            gates += ("non_designated",)
        if not flags.referral_compliant and policy.referral.required:
            gates += ("unreferred",)
        if gates:
            return _gate(policy, bill, burden, gates)

    plans = policy.visit_match(bill.visit_type, flags)[1]

    if len(covering) == 1:  # type: ignore[arg-type]
        entry = covering[0]  # type: ignore[index]
        try:
            best = _compute(policy, entry, plans[entry[1].category], bill, burden, state, stats, person)
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
        for entry in covering:  # type: ignore[union-attr]
            try:
                result = _compute(policy, entry, plans[entry[1].category], bill, burden, state, stats, person)
            except MissingStatisticError:
                set_aside = True
                continue
            key = (result.total, "not_eligible" not in result.reasons, -entry[0])
            if best_key is None or key > best_key:
                best, best_key = result, key
        if best is None:
            return _error(bill, "missing_statistic", burden)
        if set_aside:
            best = best._replace(reasons=best.reasons + ("identity_set_aside",))
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
    return _assess(policy, person, _entries(policy, person), bill, state, stats)


def assess_bills(policy: PolicySpec, person: PersonIn, bills: Sequence[BillIn],
                 states: dict[int, YearState] | None = None,
                 stats: RegionStats = EMPTY_STATS) -> list[BillResult]:
    """Assess a person's bills in settlement order (``end``, then input order).

    ``states`` holds the person's :class:`YearState` per calendar year; missing years are created
    empty (and added to the dict, so the caller can persist them). Results come back in INPUT order.
    """
    if states is None:
        states = {}
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
        results[index] = _assess(policy, person, entries, bill, state, stats)
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

