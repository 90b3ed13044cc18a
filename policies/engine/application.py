"""Relief on application (依申请救助, POLICY.md §4).

Beijing (京医保发〔2022〕37号 六(三)): the previous calendar year's burden of the patient and the
co-resident household, progressive bands 30% / 40% / 50%, capped at 150,000, once a year.
Ningbo (甬医保发〔2019〕27号 三(二)1): 60% of the patient's inpatient burden of the 12 months
before the application, within the annual 80,000 bucket of the decision year.
Both are :class:`~policies.engine.types.ApplicationScheme` data; nothing here knows a region.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date as Date
from decimal import Decimal
from typing import Any

from .engine import EMPTY_STATS, bill_burden, categories_on, month_end, visit_class_of
from .money import ZERO, money_str, percent_str, round_money, to_decimal
from .types import (
    BUCKET_LABELS,
    REASONS,
    ApplicationScheme,
    BillIn,
    BucketLine,
    CertificationIn,
    ExplanationLine,
    PersonIn,
    PolicySpec,
    RegionStats,
)

__all__ = [
    "ApplicationIn",
    "ApplicationResult",
    "BandLine",
    "HouseholdMemberIn",
    "assess_application",
]

ROLES = ("patient", "member")


@dataclass(frozen=True, slots=True)
class HouseholdMemberIn:
    """A member of the applying household: the ``patient`` (exactly one) or a ``member``."""

    role: str
    person: PersonIn
    bills: tuple[BillIn, ...]


@dataclass(frozen=True, slots=True)
class ApplicationIn:
    """An application; the two flags stand for what the product reads from its own records."""

    date: Date
    previous_application_same_year: bool = False
    annual_bucket_used: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class BandLine:
    """One progressive band as applied: the part of the burden in (lower, upper] at ``rate``."""

    lower: Decimal
    upper: Decimal | None
    rate: Decimal
    amount: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {"lower": money_str(self.lower), "upper": None if self.upper is None else money_str(self.upper),
                "rate": str(self.rate), "amount": money_str(self.amount)}


@dataclass(frozen=True, slots=True)
class ApplicationResult:
    relief: Decimal
    burden: Decimal
    scheme: str | None
    reasons: tuple[str, ...]
    clauses: tuple[str, ...]
    lines: tuple[ExplanationLine, ...]
    counted_bill_ids: tuple[str, ...]
    bands: tuple[BandLine, ...]
    raw: Decimal = ZERO
    bucket: BucketLine | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, keys as in ``cases/README.md`` (relief, burden, reasons) plus the explanation."""
        return {
            "relief": money_str(self.relief),
            "burden": money_str(self.burden),
            "scheme": self.scheme,
            "reasons": list(self.reasons),
            "counted_bill_ids": list(self.counted_bill_ids),
            "explanation": {
                "raw": money_str(self.raw),
                "bands": [b.to_dict() for b in self.bands],
                "bucket": None if self.bucket is None else self.bucket.to_dict(),
                "clauses": list(self.clauses),
                "lines": [line.to_dict() for line in self.lines],
            },
        }


def _months_before(day: Date, months: int) -> Date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    first = Date(year, month + 1, 1)
    return first.replace(day=min(day.day, month_end(first).day))


def _window(scheme: ApplicationScheme, on: Date, held_since: Date | None = None) -> tuple[Date, Date, str]:
    """(first, last) settlement dates counted, inclusive, and a label for the letter."""
    if scheme.window == "previous_calendar_year":
        year = on.year - 1
        return Date(year, 1, 1), Date(year, 12, 31), f"{year}年度"
    if scheme.window == "since_certification":
        # 认定之日起 (national 五(八), Wuxi, Dongzhi): from the certification up to the application,
        # no further back than ``months`` when set.
        first = held_since or on
        if scheme.months:
            floor = Date.fromordinal(_months_before(on, scheme.months).toordinal() + 1)
            first = max(first, floor)
        first = min(first, on)
        return first, on, f"{first.isoformat()} 至 {on.isoformat()}"
    # "申请前12个月内" (甬 三(二)1, POLICY.md §9): settled after the same day 12 months earlier and
    # BEFORE the application date; a bill settled on or after it is assessed per bill only.
    start = _months_before(on, scheme.months or 0)
    first = Date.fromordinal(start.toordinal() + 1)
    last = Date.fromordinal(on.toordinal() - 1)
    return first, last, f"{first.isoformat()} 至 {last.isoformat()}"


def _assess_scheme(policy: PolicySpec, scheme: ApplicationScheme, application: ApplicationIn,
                   household: Sequence[HouseholdMemberIn], stats: RegionStats = EMPTY_STATS,
                   category: str | None = None, held_since: Date | None = None) -> ApplicationResult:
    first, last, window_label = _window(scheme, application.date, held_since)
    lines: list[ExplanationLine] = [
        ExplanationLine("scheme", "救助方式", scheme.label_zh or scheme.code, scheme.clause),
        ExplanationLine("window", "费用计算期间", window_label, scheme.clause),
    ]
    reasons: list[str] = []
    counted: list[str] = []
    counted_bills: list[BillIn] = []
    burden = ZERO
    for member in household:
        if scheme.members == "patient" and member.role != "patient":
            continue
        for bill in member.bills:
            end = bill.end
            if type(end) is not Date or not first <= end <= last:
                continue
            if scheme.require_designated and not bill.flags.designated:
                continue
            if scheme.require_referral and not bill.flags.referral_compliant:
                continue
            if scheme.visit_classes is not None and visit_class_of(policy, bill) not in scheme.visit_classes:
                continue
            bill_value = bill_burden(bill)
            if bill_value is None:
                if "invalid_amounts" not in reasons:
                    reasons.append("invalid_amounts")
                continue
            counted.append(bill.id)
            counted_bills.append(bill)
            burden += bill_value
            lines.append(ExplanationLine(f"bill:{bill.id}", "计入费用的个人负担", money_str(bill_value),
                                         policy.burden_clause))
    lines.append(ExplanationLine("burden", "政策范围内个人负担合计", money_str(burden), scheme.clause))

    bands: list[BandLine] = []
    if scheme.method == "per_bill":
        raw = _per_bill(policy, scheme, counted_bills, category or scheme.categories[0], first, stats, lines, reasons)
        return _finish(policy, scheme, application, raw, burden, reasons, lines, counted, bands)
    lower = ZERO
    for band in scheme.bands:
        if burden <= lower:
            break
        top = burden if band.upper is None or burden < band.upper else band.upper
        amount = round_money((top - lower) * band.rate)
        bands.append(BandLine(lower, band.upper, band.rate, amount))
        upper_text = "以上" if band.upper is None else f"至 {money_str(band.upper)}"
        lines.append(ExplanationLine(f"band:{len(bands)}", f"{money_str(lower)} {upper_text} 部分 × "
                                     f"{percent_str(band.rate)}", money_str(amount), scheme.clause))
        if band.upper is None:
            break
        lower = band.upper
    raw = sum((b.amount for b in bands), ZERO)
    return _finish(policy, scheme, application, raw, burden, reasons, lines, counted, bands)


def _per_bill(policy: PolicySpec, scheme: ApplicationScheme, bills: Sequence[BillIn], category: str, first: Date,
              stats: RegionStats, lines: list[ExplanationLine], reasons: list[str]) -> Decimal:
    """Each counted bill assessed under the region's own tier of ``category`` (POLICY.md §9):
    the patient is treated as holding it over the whole window, caps and deductibles run over
    the window in settlement order, and ``other_paid`` already holds what was paid before."""
    from .engine import assess_bills

    person = PersonIn((CertificationIn(category, first, None),))
    total = ZERO
    for bill, result in zip(bills, assess_bills(policy, person, bills, None, stats), strict=True):
        if result.error is not None:
            if result.error not in reasons:
                reasons.append(result.error)
            continue
        total += result.total
        tier = f"{result.tier} " if result.tier else ""
        lines.append(ExplanationLine(f"per_bill:{bill.id}", f"按{tier}救助标准计算（{bill.id}）",
                                     money_str(result.total), "；".join(result.clauses[:3]) or scheme.clause))
    return total


def _finish(policy: PolicySpec, scheme: ApplicationScheme, application: ApplicationIn, raw: Decimal,
            burden: Decimal, reasons: list[str], lines: list[ExplanationLine], counted: list[str],
            bands: list[BandLine]) -> ApplicationResult:
    relief = raw
    if not counted:
        reasons.append("no_counted_bills")
    if scheme.cap is not None and relief > scheme.cap:
        relief = scheme.cap
        reasons.append("capped")
        lines.append(ExplanationLine("cap", "单次救助最高限额", money_str(scheme.cap), scheme.clause))
    bucket_line = None
    if scheme.bucket is not None:
        cap = scheme.bucket.cap
        room = None
        if cap is not None:
            room = cap - to_decimal(application.annual_bucket_used)
            if room < ZERO:
                room = ZERO
            if relief > room:
                reasons.append("cap_limited" if room > ZERO else "cap_exhausted")
                relief = room
        bucket_line = BucketLine(scheme.bucket.name, cap, room, None if room is None else room - relief, relief,
                                 scheme.bucket.clause)
        value = "不设限额" if cap is None else (f"限额 {money_str(cap)}；剩余 {money_str(room)} → "  # type: ignore[arg-type]
                                               f"{money_str(room - relief)}")  # type: ignore[operator]
        lines.append(ExplanationLine(f"bucket:{scheme.bucket.name}", f"年度救助限额（{BUCKET_LABELS.get(scheme.bucket.name, scheme.bucket.name)}）", value,
                                     scheme.bucket.clause))
    lines.append(ExplanationLine("relief", "依申请救助金额", money_str(relief), scheme.clause))
    for reason in reasons:
        lines.append(ExplanationLine(f"reason:{reason}", "说明", REASONS.get(reason, reason), scheme.clause))
    clauses = tuple(dict.fromkeys(c for c in (scheme.clause, policy.burden_clause,
                                              scheme.bucket.clause if scheme.bucket else "") if c))
    return ApplicationResult(relief=relief, burden=burden, scheme=scheme.code, reasons=tuple(reasons),
                             clauses=clauses, lines=tuple(lines), counted_bill_ids=tuple(counted),
                             bands=tuple(bands), raw=raw, bucket=bucket_line)


def assess_application(policy: PolicySpec, application: ApplicationIn, household: Sequence[HouseholdMemberIn],
                       stats: RegionStats = EMPTY_STATS) -> ApplicationResult:
    """Relief on application for the household of exactly one ``patient``.

    The patient must hold a category of one of the policy's schemes on the application date
    (else ``not_eligible``); several schemes: the highest relief. A scheme allowed once a year
    pays nothing when ``previous_application_same_year`` (``already_applied_this_year``).
    ``stats`` feeds ``per_bill`` schemes (their tiers' deductibles may read a statistic). A policy
    without any scheme answers ``no_scheme``.
    """
    patients = [m for m in household if m.role == "patient"]
    if len(patients) != 1:
        raise ValueError("a household application needs exactly one member with role 'patient'")
    for member in household:
        if member.role not in ROLES:
            raise ValueError(f"unknown household role {member.role!r}")
    patient = patients[0].person
    held = categories_on(policy, patient, application.date)
    best: ApplicationResult | None = None
    for scheme in policy.application_schemes:
        mine = [c for c in scheme.categories if c in held]
        if not mine:
            continue
        since = [c.valid_from for c in patient.certifications if c.category in mine and c.valid_from <= application.date
                 and (c.valid_until is None or c.valid_until >= application.date)]
        result = _assess_scheme(policy, scheme, application, household, stats, mine[0], min(since) if since else None)
        if scheme.once_per_year and application.previous_application_same_year:
            result = ApplicationResult(
                relief=ZERO, burden=result.burden, scheme=scheme.code,
                reasons=("already_applied_this_year",), clauses=result.clauses,
                lines=result.lines[:2] + (ExplanationLine(
                    "reason:already_applied_this_year", REASONS["already_applied_this_year"],
                    "already_applied_this_year", scheme.clause),),
                counted_bill_ids=result.counted_bill_ids, bands=(), raw=ZERO, bucket=None,
            )
        if best is None or result.relief > best.relief:
            best = result
    if best is None:
        clause = "；".join(s.clause for s in policy.application_schemes) or policy.document_no
        reason = "not_eligible" if policy.application_schemes else "no_scheme"
        return ApplicationResult(
            relief=ZERO, burden=ZERO, scheme=None, reasons=(reason,), clauses=(clause,),
            lines=(ExplanationLine(f"reason:{reason}", "说明", REASONS[reason], clause),),
            counted_bill_ids=(), bands=(),
        )
    return best
