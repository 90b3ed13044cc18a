"""Writes of the claims app: bills, the claim workflow, payment batches and THE recomputation.

Locking protocol (so concurrent approvals can never spend the same cap room twice):

1. Every write that changes which bills count towards a person's caps, or what they computed,
   first locks the person-year ledger row(s) with ``SELECT ... FOR UPDATE`` (years ascending),
   via :func:`lock_ledger`. The row is created if missing (``INSERT ... ON CONFLICT DO
   NOTHING``), so two first-time approvals cannot both create it.
2. Only then it locks the claim row, re-reads its state and changes it.
3. It recomputes the person-year from the database *after* taking the lock (READ COMMITTED
   gives each statement a fresh snapshot, so bills approved by the previous lock holder are seen).

Which bills count towards the ledger (年度累计): one-stop bills (recorded or paid at the
hospital) and bills of approved or paid claims. Bills of draft, submitted or returned claims get
a *suggested* figure computed after the counted bills; rejected bills keep what they had.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaries.models import Person
from operations.outbox import enqueue
from organizations.dates import check_date
from organizations.permissions import require

from . import money
from .models import (
    ZERO,
    AdjustmentKind,
    Bill,
    BillSource,
    BillStatus,
    Claim,
    ClaimAttachment,
    ClaimStatus,
    ClaimTransition,
    Correction,
    LedgerBucket,
    LedgerDraw,
    LedgerRepair,
    PaymentAdjustment,
    PaymentBatch,
    PersonYearLedger,
    RejectionReason,
)

if TYPE_CHECKING:
    from policies.engine.types import BillResult

logger = logging.getLogger(__name__)

__all__ = [
    "PolicyCache",
    "correction_approve",
    "correction_propose",
    "corrections_sync",
    "ledger_damage",
    "ledger_repair",
    "RecomputeOutcome",
    "adjustment_resolve",
    "bills_create_computed",
    "bill_compute_preview",
    "bill_create",
    "bill_validate",
    "claim_add_bill",
    "claim_approve",
    "claim_create",
    "claim_reject",
    "claim_return",
    "claim_submit",
    "lock_ledger",
    "payment_batch_create",
    "payment_batch_mark_paid",
    "payment_batch_total",
    "recompute_person_year",
    "recompute_person_years",
]

MONEY_FIELDS = ("total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid")
COMPUTED_FIELDS = ["policy", "assistance", "tilted", "special", "total_assistance", "category", "computation",
                   "computation_digest", "computed_at"]
NO_POLICY_DIGEST = "no_policy"  # Bill.computation_digest when no policy applied on the settlement date


# --------------------------------------------------------------------------------------------
# Bills: validation and creation
# --------------------------------------------------------------------------------------------


def bill_validate(data: dict[str, Any]) -> None:
    """POLICY.md §1: no negative amount; total ≥ scope ≥ basic + critical; dates in order, not in
    the future and not before the policy era (organizations.dates).

    Raises ``ValidationError({field: ...})`` naming the first offending field; never clamps.
    """
    errors: dict[str, ValidationError] = {}
    for name in (*MONEY_FIELDS, "hospital_assistance_paid"):
        value = data.get(name)
        if value is None:
            continue
        if value < 0:
            errors[name] = ValidationError(_("金额不能为负数。"), code="negative")
    if errors:
        raise ValidationError(errors)
    total, scope = data.get("total_cost"), data.get("policy_scope_cost")
    basic, critical = data.get("basic_paid") or ZERO, data.get("critical_paid") or ZERO
    if total is not None and scope is not None and scope > total:
        raise ValidationError({"policy_scope_cost": ValidationError(
            _("政策范围内费用（%(scope)s）不能大于医疗总费用（%(total)s）。"), code="scope_gt_total",
            params={"scope": scope, "total": total})})
    if scope is not None and basic + critical > scope:
        raise ValidationError({"basic_paid": ValidationError(
            _("基本医保与大病保险支付之和（%(sum)s）不能大于政策范围内费用（%(scope)s）。"), code="paid_gt_scope",
            params={"sum": basic + critical, "scope": scope})})
    admission, discharge = data.get("admission_date"), data.get("discharge_date")
    for name, value in (("admission_date", admission), ("discharge_date", discharge)):
        try:
            check_date(value, label=Bill._meta.get_field(name).verbose_name)
        except ValidationError as exc:
            raise ValidationError({name: exc}) from None
    if admission is not None and discharge is not None and discharge < admission:
        raise ValidationError({"discharge_date": ValidationError(
            _("出院/结算日期不能早于入院/就诊日期。"), code="discharge_before_admission")})


def bill_create(*, person: Person, district_id: int, institution_id: int, data: dict[str, Any], by,
                claim: Claim | None = None, source: str = BillSource.ONE_STOP) -> Bill:
    """Create one bill after :func:`bill_validate` and ``full_clean``; does not recompute."""
    bill_validate(data)
    bill = Bill(person=person, district_id=district_id, institution_id=institution_id, claim=claim, source=source,
                created_by=by if getattr(by, "pk", None) else None, **data)
    if claim is not None:
        bill.status = claim.status
    elif bill.hospital_assistance_paid is not None:
        bill.status = BillStatus.HOSPITAL_PAID
    else:
        bill.status = BillStatus.RECORDED
    bill.full_clean(exclude=["person", "district", "institution", "claim", "policy", "created_by"])
    bill.save()
    return bill


# --------------------------------------------------------------------------------------------
# The ledger lock and THE recomputation
# --------------------------------------------------------------------------------------------


def lock_ledger(*, person_id: int, year: int) -> PersonYearLedger:
    """Lock (creating if missing) the person-year ledger row. Must run inside a transaction."""
    PersonYearLedger.objects.bulk_create([PersonYearLedger(person_id=person_id, year=year)], ignore_conflicts=True)
    return PersonYearLedger.objects.select_for_update().get(person_id=person_id, year=year)


def ledger_draw_record(*, ledger: PersonYearLedger, bucket: str, cap: Decimal | None, amount: Decimal, clause: str,
                       source: str, source_ref: int) -> LedgerDraw:
    """Record assistance paid outside the bills on a bucket of ``ledger`` (e.g. Ningbo relief on
    application) and add it to the bucket's ``used``. Precondition: the caller holds the ledger
    lock (:func:`lock_ledger`) and has checked the room; a draw beyond the cap is refused
    (``bucket_room``), never clipped. Later recomputations start the year with this draw taken.
    """
    if amount <= 0:
        raise ValidationError(_("占用金额必须大于零。"), code="invalid_amount")
    row = LedgerBucket.objects.filter(ledger=ledger, bucket=bucket).first()
    if row is None:
        row = LedgerBucket(ledger=ledger, bucket=bucket, cap=cap, used=ZERO, clause=clause)
    elif row.cap is None and cap is not None and row.used == ZERO:
        row.cap = cap
    limit = row.cap if row.cap is not None else cap
    if limit is not None and row.used + amount > limit:
        raise ValidationError(
            _("年度救助限额剩余 %(room)s 元，不足 %(amount)s 元。") % {"room": max(ZERO, limit - row.used), "amount": amount},
            code="bucket_room",
        )
    row.used += amount
    row.save()
    return LedgerDraw.objects.create(ledger=ledger, bucket=bucket, cap=cap, amount=amount, clause=clause,
                                     source=source, source_ref=source_ref)


def seed_year_state(state, draws) -> None:
    """Start a person-year's engine state with the draws paid outside its bills (``LedgerDraw``
    or rows with ``bucket`` and ``amount``): bills then get only the room that is left."""
    for draw in draws:
        state.bucket_used[draw.bucket] = state.bucket_used.get(draw.bucket, ZERO) + draw.amount


def ledger_buckets(results: Iterable[BillResult | None], draws: Iterable[LedgerDraw], state) -> dict[
        str, tuple[Decimal | None, Decimal, str]]:
    """The buckets a person-year's ledger should hold: name -> (cap, used, clause).

    From the counted bills' results (their bucket lines) and the draws paid outside the bills. A
    bucket's cap is the one every draw on it ran under: the largest cap seen, or none if any draw
    was uncapped (an identity without a cap that year). ``used`` is the engine's year total.
    The one rule for both recompute paths (this module and ``monitoring.bulk``).
    """
    caps: dict[str, Decimal] = {}
    clauses: dict[str, str] = {}
    uncapped: set[str] = set()

    def see(name: str, cap: Decimal | None, clause: str) -> None:
        clauses.setdefault(name, clause)
        if cap is None:
            uncapped.add(name)
        else:
            previous = caps.get(name)
            caps[name] = cap if previous is None else max(previous, cap)

    for draw in draws:
        see(draw.bucket, draw.cap, draw.clause)
    for result in results:
        if result is not None:
            for line in result.buckets:
                see(line.name, line.cap, line.clause)
    names = set(caps) | uncapped | {k for k, v in state.bucket_used.items() if v}
    return {
        name: (None if name in uncapped or name not in caps else caps[name], state.bucket_used.get(name, ZERO),
               clauses.get(name, ""))
        for name in names
    }


@dataclass
class RecomputeOutcome:
    """What :func:`recompute_person_year` did (or would do, with ``dry_run``)."""

    person_id: int
    year: int
    dry_run: bool = False
    bills_seen: int = 0
    bills_changed: int = 0
    adjustments_created: int = 0
    adjustments_superseded: int = 0
    ledger_changed: bool = False
    total_assistance: Decimal = ZERO
    errors: list[str] = field(default_factory=list)
    skipped: bool = False  # a damaged ledger: reported, left alone

    def __add__(self, other: RecomputeOutcome) -> RecomputeOutcome:
        return RecomputeOutcome(
            person_id=self.person_id, year=self.year, dry_run=self.dry_run and other.dry_run,
            bills_seen=self.bills_seen + other.bills_seen, bills_changed=self.bills_changed + other.bills_changed,
            adjustments_created=self.adjustments_created + other.adjustments_created,
            adjustments_superseded=self.adjustments_superseded + other.adjustments_superseded,
            ledger_changed=self.ledger_changed or other.ledger_changed,
            total_assistance=self.total_assistance + other.total_assistance, errors=self.errors + other.errors,
            skipped=self.skipped or other.skipped,
        )


class PolicyCache:
    """Policies, specs and statistics for a run, shared by many calls (imports, commands).

    A thin holder of the one in-memory policy choice (:class:`claims.recalc.PolicyPicker`, the rule
    of ``policies.selectors.policy_in_force``), loaded on first use, plus institutions.
    """

    def __init__(self) -> None:
        self._picker = None

    @property
    def picker(self):
        from .recalc import PolicyPicker

        if self._picker is None:
            self._picker = PolicyPicker.load()
        return self._picker

    def policy(self, region_id: int | None, on: date):
        return self.picker.pick(region_id, on)

    def institution(self, institution_id: int):
        from organizations.models import Institution

        if not hasattr(self, "_institutions"):
            self._institutions = Institution.objects.in_bulk()
        found = self._institutions.get(institution_id)
        if found is None:  # created after the cache was filled
            found = self._institutions[institution_id] = Institution.objects.get(pk=institution_id)
        return found

    def assistance_region(self, person) -> int | None:
        """The region whose policy assists ``person``: their assistance (hukou) region, not the
        insurance region (京 十(三): insured elsewhere, assisted at the Beijing standard after that
        region's insurance has paid; POLICY.md §9)."""
        from organizations.models import District

        regions = getattr(self, "_district_regions", None)
        if regions is None:
            regions = self._district_regions = dict(District.objects.values_list("pk", "region_id"))
        district_id = person.hukou_district_id
        if district_id not in regions:
            regions[district_id] = District.objects.values_list("region_id", flat=True).get(pk=district_id)
        return regions[district_id]

    def spec(self, policy, district_id: int | None, on: date):
        """The one policy the engine sees for a bill of ``district_id`` (区级标准 applied, POLICY.md §9):
        the picker's, as the recalculation core resolves it."""
        return self.picker.spec_for(policy, district_id, on)

    def stats(self, region_id: int | None):
        return self.picker.stats(region_id)


def no_policy_result(bill: Bill) -> dict[str, Any]:
    """The stored computation of a bill settled on a date no policy covers."""
    return {"bill_id": str(bill.pk), "error": "no_policy", "assistance": "0.00", "tilted": "0.00", "special": "0.00",
            "total": "0.00", "category": None, "tier": None, "visit_class": None, "reasons": ["no_policy"],
            "explanation": {"lines": [{"key": "error", "label": _("结算日期无适用的救助政策"), "value": "no_policy",
                                       "clause": ""}], "clauses": [], "buckets": [], "items": []}}


def _assess(bill: Bill, person_in, state, cache: PolicyCache, region_id: int | None):
    """(policy, BillResult | None) for one bill; updates ``state`` when the bill is paid out."""
    from policies.adapters import bill_in
    from policies.engine.engine import assess_bill

    policy = cache.policy(region_id, bill.discharge_date)
    if policy is None:
        return None, None
    spec = cache.spec(policy, bill.district_id, bill.discharge_date)
    return policy, assess_bill(spec, person_in, bill_in(bill), state, cache.stats(region_id))


def recompute_person_years(*, person_years: Iterable[tuple[int, int]], dry_run: bool = False,
                           cache: PolicyCache | None = None, chunk: int = 500) -> list[RecomputeOutcome]:
    """Recompute many person-years through THE core (:func:`claims.recalc.recompute_chunk`, the
    function the nightly chunks call): same rule, batched reads and writes. Each chunk of
    person-years is one transaction that locks its ledger rows in (person, year) order, so
    concurrent batches and approvals cannot deadlock on ledgers. With ``dry_run`` nothing is
    written. Outcomes come back in (person, year) order.
    """
    from .recalc import recompute_chunk

    pairs = sorted(set(person_years))
    cache = cache or PolicyCache()
    outcomes: list[RecomputeOutcome] = []
    for start in range(0, len(pairs), chunk):
        part = pairs[start:start + chunk]
        person_ids = sorted({p for p, _y in part})
        with transaction.atomic():
            done = recompute_chunk(lo=person_ids[0], hi=person_ids[-1], person_years=part, dry_run=dry_run,
                                   picker=cache.picker)
            if dry_run:
                transaction.set_rollback(True)
        for person_id, year in part:
            py = done.by_person_year.get((person_id, year))
            outcome = RecomputeOutcome(person_id=person_id, year=year, dry_run=dry_run)
            if py is not None:
                outcome.bills_seen, outcome.bills_changed = py.bills_seen, py.bills_changed
                outcome.adjustments_created = py.adjustments_created
                outcome.adjustments_superseded = py.adjustments_superseded
                outcome.ledger_changed, outcome.total_assistance = py.ledger_changed, py.total_assistance
                outcome.errors, outcome.skipped = list(py.errors), py.skipped
            outcomes.append(outcome)
    return outcomes


def bills_create_computed(*, bills: list[Bill], person_years: Iterable[tuple[int, int]],
                          cache: PolicyCache | None = None, chunk: int = 20_000) -> list[Bill] | None:
    """Insert new ``bills`` with their figures already computed, each written ONCE (issue 20: no
    INSERT then UPDATE: one COPY, one pass of the fund pre-aggregate's triggers), ``person_years`` (which
    must include every bill's) recomputed with them through THE core in one call per ``chunk``.

    The ids are reserved from the table's sequence first (PostgreSQL only), so the core sees the
    bills as they will be stored: same decision order, same explanations, same ledgers and
    adjustments as inserting them and then recomputing (``recompute_person_years``). Runs in a
    savepoint: if the database refuses the insert (a settlement number taken meanwhile, a
    constraint), everything done here is rolled back, the bills are left unsaved with their
    figures cleared, and None is returned (the caller inserts them its own way and recomputes).
    Caller holds a transaction.
    """
    from django.db import DatabaseError, connection

    from .recalc import B_END, B_PERSON, BILL_FIELDS, copy_insert, recompute_chunk

    if not bills:
        return bills
    pairs = sorted(set(person_years))
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                       [Bill._meta.db_table, len(bills)])
        ids = sorted(row[0] for row in cursor.fetchall())
    for bill, pk in zip(bills, ids, strict=True):
        bill.pk = pk
    rows = [tuple(bill.institution.designated if name == "institution__designated"
                  else False if name == "computed" else getattr(bill, name) for name in BILL_FIELDS)
            for bill in bills]
    cache = cache or PolicyCache()
    attnames = {f.name: f.attname for f in Bill._meta.concrete_fields}
    try:
        with transaction.atomic():
            figures: dict[int, dict] = {}
            for start in range(0, len(pairs), chunk):
                part = pairs[start:start + chunk]
                keys = set(part)
                people = sorted({p for p, _y in part})
                done = recompute_chunk(lo=people[0], hi=people[-1], person_years=part, picker=cache.picker,
                                       unsaved=[r for r in rows if (r[B_PERSON], r[B_END].year) in keys])
                figures.update(done.unsaved_figures)
            for bill in bills:
                for name, value in figures.get(bill.pk, {}).items():
                    setattr(bill, attnames[name], value)
            copy_insert(Bill, bills)  # one COPY: the rows as computed, written once
    except DatabaseError:
        blank = Bill()
        for bill in bills:
            bill.pk = None
            bill._state.adding = True
            for name in (*COMPUTED_FIELDS, "granted_amount"):
                setattr(bill, attnames[name], getattr(blank, attnames[name]))
        return None
    return bills


def recompute_person_year(*, person_id: int, year: int, dry_run: bool = False,
                          cache: PolicyCache | None = None) -> RecomputeOutcome:
    """Bring one person-year back in line with the rules (THE recomputation; nightly and approval).

    Locks the ledger row (creating it), loads the person's certifications and every bill settled
    in ``year``, runs the engine in decision order (:func:`claims.recalc.decision_key`), writes
    changed figures, records adjustments for paid one-stop bills and proposes corrections for
    granted claims (never changing what was paid or granted) and rebuilds the ledger. A damaged
    ledger is reported (``outcome.skipped``, ``outcome.errors``) and left alone. Idempotent: a
    second run changes nothing. With ``dry_run`` nothing is written.
    """
    [outcome] = recompute_person_years(person_years=[(person_id, year)], dry_run=dry_run, cache=cache)
    return outcome


def bill_compute_preview(*, bill: Bill) -> BillResult | None:
    """What ``bill`` (saved or not) would get if it were settled next, after the counted bills
    of its person-year. Writes nothing. None when no policy is in force on its settlement date."""
    from policies.adapters import person_in
    from policies.engine.types import YearState

    person = bill.person
    pin = person_in(person)
    cache = PolicyCache()
    year = bill.discharge_date.year
    state = YearState(year)
    counted = (money.bills_counted_for_caps(Bill.objects.filter(
        person_id=person.pk, discharge_date__gte=date(year, 1, 1), discharge_date__lte=date(year, 12, 31)))
               .exclude(pk=bill.pk).select_related("institution").order_by("discharge_date", "id"))
    for other in counted:
        _assess(other, pin, state, cache, cache.assistance_region(person))
    _policy, result = _assess(bill, pin, state, cache, cache.assistance_region(person))
    return result


# --------------------------------------------------------------------------------------------
# The claim workflow (先垫付后报销)
# --------------------------------------------------------------------------------------------


def _record(claim: Claim, *, from_status: str, to_status: str, by, note: str = "") -> ClaimTransition:
    return ClaimTransition.objects.create(claim=claim, from_status=from_status, to_status=to_status, by=by, note=note)


def _require(user, name: str, claim: Claim) -> None:
    """The permission (organizations/permissions.py) and the claim's district in the user's scope."""
    require(user, name, district_id=claim.district_id)


def _refuse_state(claim: Claim, allowed: Sequence[str]) -> None:
    if claim.status not in allowed:
        raise ValidationError(
            _("申请当前状态为“%(status)s”，不能执行此操作。"), code="invalid_state",
            params={"status": ClaimStatus(claim.status).label},
        )


def _years_of(claim_id: int) -> list[int]:
    return sorted({d.year for d in Bill.objects.filter(claim_id=claim_id).values_list("discharge_date", flat=True)})


def _set_status(claim: Claim, status: str, *, update: Sequence[str] = ()) -> None:
    claim.status = status
    claim.save(update_fields=["status", "updated_at", *update])
    Bill.objects.filter(claim=claim).update(status=status, updated_at=timezone.now())


@transaction.atomic
def claim_create(*, person: Person, district, applied_on: date, by, bills: Sequence[dict[str, Any]] = (),
                 payee_account: str = "", note: str = "") -> Claim:
    """Register a manual reimbursement application (draft) with its bills; compute suggestions.

    Each bill dict holds ``institution`` (or ``institution_id``) and the bill fields.
    """
    require(by, "claims.edit", district_id=getattr(district, "pk", district))
    claim = Claim.objects.create(person=person, district=district, applied_on=applied_on, created_by=by,
                                 payee_account=payee_account, note=note)
    _record(claim, from_status="", to_status=ClaimStatus.DRAFT, by=by, note=_("登记申请"))
    for data in bills:
        _add_bill(claim, data, by=by)
    for year in _years_of(claim.pk):
        recompute_person_year(person_id=person.pk, year=year)
    return claim


def _add_bill(claim: Claim, data: dict[str, Any], *, by) -> Bill:
    data = dict(data)
    institution = data.pop("institution", None)
    institution_id = data.pop("institution_id", None) or getattr(institution, "pk", None)
    if institution_id is None:
        raise ValidationError({"institution": ValidationError(_("请选择定点医药机构。"), code="required")})
    return bill_create(person=claim.person, district_id=claim.district_id, institution_id=institution_id, data=data,
                       by=by, claim=claim, source=BillSource.MANUAL)


@transaction.atomic
def claim_add_bill(*, claim: Claim, data: dict[str, Any], by) -> Bill:
    """Add a bill to a draft or returned claim and recompute its suggestion."""
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    _require(by, "claims.edit", claim)
    _refuse_state(claim, (ClaimStatus.DRAFT, ClaimStatus.RETURNED))
    bill = _add_bill(claim, data, by=by)
    recompute_person_year(person_id=claim.person_id, year=bill.discharge_date.year)
    return bill


EDITABLE_STATUSES = (ClaimStatus.DRAFT, ClaimStatus.RETURNED)
BILL_EDIT_FIELDS = ("institution", "settlement_no", "visit_type", "admission_date", "discharge_date", "diagnosis_code",
                    "diagnosis_name", "major_disease", "rare_disease", "good_samaritan_injury", "referral_compliant",
                    "in_province", "total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid")


def _lock_editable(claim: Claim, by) -> Claim:
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    _require(by, "claims.edit", claim)
    _refuse_state(claim, EDITABLE_STATUSES)
    return claim


@transaction.atomic
def claim_update(*, claim: Claim, by, applied_on: date, payee_account: str = "", note: str = "") -> Claim:
    """Correct a draft's (or returned claim's) header: application date, payee account, note."""
    claim = _lock_editable(claim, by)
    changes = []
    for name, value in (("applied_on", applied_on), ("payee_account", payee_account), ("note", note)):
        if getattr(claim, name) != value:
            changes.append(str(Claim._meta.get_field(name).verbose_name))
            setattr(claim, name, value)
    if changes:
        claim.full_clean(exclude=["person", "district", "created_by", "submitted_by", "reviewed_by", "payment_batch"])
        claim.save(update_fields=["applied_on", "payee_account", "note", "updated_at"])
        _record(claim, from_status=claim.status, to_status=claim.status, by=by,
                note=_("修改申请：%(fields)s") % {"fields": "、".join(changes)})
    return claim


@transaction.atomic
def claim_update_bill(*, claim: Claim, bill: Bill, data: dict[str, Any], by) -> Bill:
    """Correct a bill of a draft or returned claim (POLICY.md §1 checks again) and recompute the
    suggestion of the year(s) it was and is in. The change is in the claim's history."""
    claim = _lock_editable(claim, by)
    bill = Bill.objects.select_for_update().get(pk=bill.pk, claim=claim)
    bill_validate(data)
    old_year = bill.discharge_date.year
    institution = data.get("institution")
    changed = []
    for name in BILL_EDIT_FIELDS:
        if name not in data:
            continue
        value = data[name]
        current = bill.institution if name == "institution" else getattr(bill, name)
        if current != value:
            changed.append(str(Bill._meta.get_field(name).verbose_name))
            setattr(bill, name, value)
    if institution is not None and Bill.objects.filter(institution=institution, settlement_no=bill.settlement_no) \
            .exclude(pk=bill.pk).exists():
        raise ValidationError({"settlement_no": ValidationError(_("该机构的结算单号已存在。"), code="duplicate")})
    if not changed:
        return bill
    bill.full_clean(exclude=["person", "district", "institution", "claim", "policy", "created_by"])
    bill.save()
    _record(claim, from_status=claim.status, to_status=claim.status, by=by,
            note=_("修改结算单 %(no)s：%(fields)s") % {"no": bill.settlement_no, "fields": "、".join(changed)})
    for year in sorted({old_year, bill.discharge_date.year}):
        recompute_person_year(person_id=claim.person_id, year=year)
    return bill


@transaction.atomic
def claim_remove_bill(*, claim: Claim, bill: Bill, by) -> None:
    """Remove a mistyped bill from a draft or returned claim. Such a bill never counted towards
    the ledger and nothing was paid on it, so it is deleted; the claim's history names it."""
    claim = _lock_editable(claim, by)
    bill = Bill.objects.select_for_update().get(pk=bill.pk, claim=claim)
    year, number, amount = bill.discharge_date.year, bill.settlement_no, bill.total_cost
    try:
        bill.delete()
    except ProtectedError:
        raise ValidationError(_("结算单 %(no)s 已被其他记录引用，不能删除。"), code="referenced",
                              params={"no": number}) from None
    _record(claim, from_status=claim.status, to_status=claim.status, by=by,
            note=_("删除结算单 %(no)s（医疗总费用 %(amount)s 元）") % {"no": number, "amount": f"{amount:,.2f}"})
    recompute_person_year(person_id=claim.person_id, year=year)


@transaction.atomic
def claim_withdraw(*, claim: Claim, by, reason: str) -> Claim:
    """The caseworker who registered or submitted a claim takes it back before any review
    (撤回): it returns to draft, editable again; the reason is in its history. No decision was
    made, so no letter is issued."""
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    _require(by, "claims.submit", claim)
    _refuse_state(claim, (ClaimStatus.SUBMITTED,))
    if by.pk not in (claim.created_by_id, claim.submitted_by_id):
        raise ValidationError(_("只有登记或提交此申请的经办人可以撤回。"), code="not_maker")
    if not reason.strip():
        raise ValidationError({"reason": ValidationError(_("请填写撤回原因。"), code="required")})
    claim.submitted_by = None
    claim.submitted_at = None
    _set_status(claim, ClaimStatus.DRAFT, update=["submitted_by", "submitted_at"])
    _record(claim, from_status=ClaimStatus.SUBMITTED, to_status=ClaimStatus.DRAFT, by=by,
            note=_("撤回：%(reason)s") % {"reason": reason.strip()})
    return claim


@transaction.atomic
def claim_submit(*, claim: Claim, by, note: str = "") -> Claim:
    """Caseworker submits a draft (or corrected returned) claim for review."""
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    _require(by, "claims.submit", claim)
    _refuse_state(claim, (ClaimStatus.DRAFT, ClaimStatus.RETURNED))
    if not claim.bills.exists():
        raise ValidationError(_("申请至少需要一张结算单。"), code="no_bills")
    before = claim.status
    claim.submitted_by = by
    claim.submitted_at = timezone.now()
    _set_status(claim, ClaimStatus.SUBMITTED, update=["submitted_by", "submitted_at"])
    _record(claim, from_status=before, to_status=ClaimStatus.SUBMITTED, by=by, note=note)
    return claim


def _check_reviewer(claim: Claim, reviewer) -> None:
    _require(reviewer, "claims.approve", claim)
    if reviewer.pk in (claim.submitted_by_id, claim.created_by_id):
        raise ValidationError(_("审核人不能是申请的登记人或提交人（双人复核）。"), code="four_eyes")


def claim_approve(*, claim: Claim, reviewer, note: str = "") -> Claim:
    """A reviewer who is not the submitter approves; the amount is computed under the lock.

    Locks the person-year ledger(s) first (see module docstring), then the claim; moves its bills
    onto the ledger at this moment (``Bill.counted_at``: the decision order, so the claim gets the
    room left after every earlier decision and never reduces one) and recomputes; the figure found
    is the grant (``Bill.granted_amount``, ``Claim.approved_amount``), which only a correction
    decision changes. Refused while the person-year has a correction waiting for review
    (``correction_pending``: the room it frees or takes is not decided yet) or its ledger is
    damaged (``ledger_damaged``: reported, left alone, repaired only by :func:`ledger_repair`).
    """
    with transaction.atomic():
        years = _years_of(claim.pk)
        for year in years:
            lock_ledger(person_id=claim.person_id, year=year)
        claim = Claim.objects.select_for_update().get(pk=claim.pk)
        _require(reviewer, "claims.approve", claim)
        _refuse_state(claim, (ClaimStatus.SUBMITTED,))
        _check_reviewer(claim, reviewer)
        _refuse_open_correction(person_id=claim.person_id, years=years)
        _refuse_damaged_ledger(person_id=claim.person_id, years=years)
        now = timezone.now()
        claim.reviewed_by = reviewer
        claim.reviewed_at = now
        claim.decision_reason = ""
        claim.decision_note = note
        _set_status(claim, ClaimStatus.APPROVED, update=["reviewed_by", "reviewed_at", "decision_reason", "decision_note"])
        Bill.objects.filter(claim=claim).update(counted_at=now)
        recompute_person_years(person_years=[(claim.person_id, year) for year in years])
        claim.approved_amount = _grant_within_relief(claim)
        claim.save(update_fields=["approved_amount", "updated_at"])
        _record(claim, from_status=ClaimStatus.SUBMITTED, to_status=ClaimStatus.APPROVED, by=reviewer, note=note)
        _issue_letter_on_commit(kind="claim_approved", claim_id=claim.pk, by_id=reviewer.pk)
    return claim


def _grant_within_relief(claim: Claim) -> Decimal:
    """The grant of a claim being approved: each bill's computed figure, except that a bill counted
    (while pending, with its whole burden) by a relief on application granted meanwhile gets only
    the room that relief leaves (京 六(三): relief comes after every other assistance; the same rule
    as a correction or a one-stop raise, :func:`relief_room` / :func:`relief_fit`, from a grant of
    0). A capped bill's computation records ``relief_cap`` and its explanation line, so the
    approval letter says why. Returns the claim's approved amount."""
    from claims.recalc import relief_cap_line

    rows = list(Bill.objects.filter(claim=claim).order_by("discharge_date", "id")
                .values_list("pk", "total_assistance"))
    counted_by, room = relief_room(bill_ids=[pk for pk, _t in rows], granted_now={pk: ZERO for pk, _t in rows},
                                   lock=True)
    if not counted_by:
        Bill.objects.filter(claim=claim).update(granted_amount=F("total_assistance"))
        return sum((total for _pk, total in rows), ZERO)
    from applications.models import Application

    total_granted = ZERO
    for pk, total in rows:
        application_id = counted_by.get(pk)
        granted = total if application_id is None else relief_fit(granted=ZERO, computed=total, room=room,
                                                                   application_id=application_id)
        total_granted += granted
        if granted == total:
            Bill.objects.filter(pk=pk).update(granted_amount=granted)
            continue
        application = Application.objects.only("number", "computation").get(pk=application_id)
        clauses = (application.computation or {}).get("clauses") or [""]
        cap = {"clause": clauses[0], "application_id": application_id, "application": application.number,
               "computed": str(total), "granted": str(granted), "not_assisted": str(total - granted)}
        computation = Bill.objects.values_list("computation", flat=True).get(pk=pk) or {}
        computation["relief_cap"] = cap
        computation.setdefault("explanation", {}).setdefault("lines", []).append(relief_cap_line(cap))
        Bill.objects.filter(pk=pk).update(granted_amount=granted, computation=computation)
    return total_granted


def _refuse_open_correction(*, person_id: int, years: Sequence[int]) -> None:
    waiting = (Correction.objects.filter(status=Correction.Status.PROPOSED, claim__person_id=person_id,
                                         claim__bills__discharge_date__year__in=list(years))
               .select_related("claim").first())
    if waiting is not None:
        raise ValidationError(
            _("该人员本年度有待复核的更正决定（申请 %(no)s），请先复核更正。"), code="correction_pending",
            params={"no": waiting.claim.number})


def ledger_damage(*, person_id: int, years: Sequence[int]) -> list[dict]:
    """What is wrong with the person-years' ledgers, read-only: each bucket's used must be what its
    counted bills' stored figures and the draws add up to (``claims.recalc.check_invariants``)."""
    from .recalc import check_invariants

    found: list[dict] = []
    for year in years:
        found += check_invariants(person_ids=[person_id], only_year=year)
    return found


def _refuse_damaged_ledger(*, person_id: int, years: Sequence[int]) -> None:
    found = ledger_damage(person_id=person_id, years=years)
    if found:
        logger.error("damaged ledger, approval refused and ledger left alone: %s", found)
        raise ValidationError(
            _("该人员的年度累计与结算单不一致（%(what)s），已记录待管理员核查修复，暂不能审批。"),
            code="ledger_damaged", params={"what": "; ".join(f"{v['year']} {v.get('bucket') or ''}" for v in found)})


@transaction.atomic
def claim_reject(*, claim: Claim, reviewer, reason: str, note: str = "") -> Claim:
    """Reject with a reason from :class:`RejectionReason` and free text (required for "other")."""
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    _require(reviewer, "claims.approve", claim)
    _refuse_state(claim, (ClaimStatus.SUBMITTED,))
    _check_reviewer(claim, reviewer)
    if reason not in RejectionReason.values:
        raise ValidationError({"reason": ValidationError(_("请选择不予救助原因。"), code="invalid_reason")})
    if reason == RejectionReason.OTHER and not note.strip():
        raise ValidationError({"note": ValidationError(_("选择“其他”时请填写具体原因。"), code="note_required")})
    claim.reviewed_by = reviewer
    claim.reviewed_at = timezone.now()
    claim.decision_reason = reason
    claim.decision_note = note
    claim.approved_amount = None
    _set_status(claim, ClaimStatus.REJECTED,
                update=["reviewed_by", "reviewed_at", "decision_reason", "decision_note", "approved_amount"])
    _record(claim, from_status=ClaimStatus.SUBMITTED, to_status=ClaimStatus.REJECTED, by=reviewer,
            note=f"{RejectionReason(reason).label}{'：' + note if note else ''}")
    _issue_letter_on_commit(kind="claim_rejected", claim_id=claim.pk, by_id=reviewer.pk)
    return claim


@transaction.atomic
def claim_return(*, claim: Claim, reviewer, note: str) -> Claim:
    """Return a submitted claim to the caseworker for correction (退回补正); a note is required."""
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    _require(reviewer, "claims.approve", claim)
    _refuse_state(claim, (ClaimStatus.SUBMITTED,))
    _check_reviewer(claim, reviewer)
    if not note.strip():
        raise ValidationError({"note": ValidationError(_("退回时请说明需要补正的内容。"), code="note_required")})
    claim.decision_note = note
    _set_status(claim, ClaimStatus.RETURNED, update=["decision_note"])
    _record(claim, from_status=ClaimStatus.SUBMITTED, to_status=ClaimStatus.RETURNED, by=reviewer, note=note)
    return claim


def _issue_letter_on_commit(*, kind: str, claim_id: int, by_id: int) -> None:
    """After commit, queue the decision letter (reports.services.letter_issue, if present)."""
    from .tasks import issue_decision_letter

    enqueue(issue_decision_letter, kind, claim_id, by_id)


def issue_decision_letter_now(*, kind: str, claim_id: int, by_id: int) -> None:
    """Issue the letter if the letters app offers ``letter_issue``; skip quietly otherwise.

    A failure is logged, not raised: the decision stands and the letter can be issued again
    (``letter_issue`` is idempotent per claim and kind).
    """
    try:
        from reports import services as report_services
    except ImportError:
        return
    letter_issue = getattr(report_services, "letter_issue", None)
    if letter_issue is None:
        return
    from django.contrib.auth import get_user_model

    claim = Claim.objects.get(pk=claim_id)
    by = get_user_model().objects.get(pk=by_id)
    try:
        letter_issue(kind=kind, claim=claim, by=by)
    except Exception:  # noqa: BLE001 - see docstring
        logger.exception("letter for claim %s could not be issued", claim_id)


# --------------------------------------------------------------------------------------------
# Payment batches
# --------------------------------------------------------------------------------------------


@transaction.atomic
def payment_batch_create(*, claims: Sequence[Claim] = (), reliefs: Sequence = (), by) -> PaymentBatch:
    """Group approved, unbatched claims and approved reliefs on application (依申请救助, not yet
    in a batch) of one district into a payment batch. A relief enters at most one batch: the
    unique ``applications.ReliefPayment.application`` is the database's guarantee."""
    from applications.models import Application, ReliefPayment

    require(by, "claims.pay", scoped=False)  # and each district, once the rows are locked
    ids = sorted({c.pk for c in claims})
    app_ids = sorted({a.pk for a in reliefs})
    if not ids and not app_ids:
        raise ValidationError(_("请选择至少一个已批准的申请。"), code="empty")
    locked = list(Claim.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    apps = list(Application.objects.select_for_update().filter(pk__in=app_ids).order_by("pk"))
    for district_id in sorted({c.district_id for c in locked} | {a.district_id for a in apps}):
        require(by, "claims.pay", district_id=district_id)
    for claim in locked:
        if claim.status != ClaimStatus.APPROVED or claim.payment_batch_id is not None:
            raise ValidationError(_("申请 %(no)s 不是待支付的已批准申请。"), code="not_payable", params={"no": claim.number})
    payable = set(money.applications_payable(Application.objects.filter(pk__in=app_ids)).values_list("pk", flat=True))
    for app in apps:
        if app.pk not in payable:
            raise ValidationError(_("依申请救助 %(no)s 不是待支付的已批准救助。"), code="not_payable",
                                  params={"no": app.number})
    districts = {c.district_id for c in locked} | {a.district_id for a in apps}
    if len(districts) != 1:
        raise ValidationError(_("一个支付批次只能包含同一区县的申请。"), code="mixed_districts")
    district_id = districts.pop()
    now = timezone.now()
    count = PaymentBatch.objects.filter(district_id=district_id, created_at__year=now.year).count() + 1
    from organizations.models import District

    district = District.objects.get(pk=district_id)
    total = sum((c.approved_amount or ZERO for c in locked), ZERO) + sum((money.relief_granted_of(a) for a in apps), ZERO)
    batch = PaymentBatch.objects.create(number=f"ZF{district.code}{now:%Y}{count:04d}-{now:%m%d%H%M%S}",
                                        district=district, created_by=by, total_amount=total)
    Claim.objects.filter(pk__in=ids).update(payment_batch=batch)
    ReliefPayment.objects.bulk_create([ReliefPayment(application=a, batch=batch, amount=money.relief_granted_of(a))
                                       for a in apps])
    return batch


def payment_batch_total(batch: PaymentBatch) -> Decimal:
    """The batch's total: its claims' approved amounts and its reliefs' amounts."""
    claims = sum((c.approved_amount or ZERO for c in batch.claims.all()), ZERO)
    reliefs = sum((r.amount for r in batch.reliefs.all()), ZERO)
    return claims + reliefs


def payment_batch_mark_paid(*, batch: PaymentBatch, reference: str, by) -> PaymentBatch:
    """Mark a batch paid with the bank reference: its claims become paid and each bill's paid
    amount is frozen (later recomputations record adjustments instead of changing it); each
    relief on application in it is paid (``ReliefPayment.paid_amount``, read by claims.money)."""
    from applications.models import ApplicationTransition, ReliefPayment

    require(by, "claims.pay", district_id=batch.district_id)
    if not reference.strip():
        raise ValidationError({"reference": ValidationError(_("请填写支付凭证号。"), code="required")})
    with transaction.atomic():
        person_years = sorted({(p, d.year) for p, d in Bill.objects.filter(claim__payment_batch=batch)
                               .values_list("person_id", "discharge_date")})
        for person_id, year in person_years:
            lock_ledger(person_id=person_id, year=year)
        batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != PaymentBatch.Status.OPEN:
            raise ValidationError(_("该批次已标记为已支付。"), code="already_paid")
        now = timezone.now()
        total = ZERO
        for claim in Claim.objects.select_for_update().filter(payment_batch=batch).order_by("pk"):
            _refuse_state(claim, (ClaimStatus.APPROVED,))
            bills = list(claim.bills.all())
            for bill in bills:  # what is paid is the grant (a pending correction waits for review)
                bill.paid_amount = money.bill_granted(bill)
                bill.status = BillStatus.PAID
                bill.updated_at = now
            Bill.objects.bulk_update(bills, ["paid_amount", "status", "updated_at"])
            claim.approved_amount = sum((b.paid_amount for b in bills), ZERO)
            total += claim.approved_amount
            claim.status = ClaimStatus.PAID
            claim.save(update_fields=["status", "approved_amount", "updated_at"])
            _record(claim, from_status=ClaimStatus.APPROVED, to_status=ClaimStatus.PAID, by=by,
                    note=_("支付批次 %(no)s，凭证 %(ref)s") % {"no": batch.number, "ref": reference})
        for payment in (ReliefPayment.objects.select_for_update().filter(batch=batch)
                        .select_related("application").order_by("pk")):
            application = payment.application
            granted = money.relief_granted_of(application)
            if granted != payment.amount:
                raise ValidationError(_("依申请救助 %(no)s 的核定金额已变化，不能支付。"), code="relief_changed",
                                      params={"no": application.number})
            payment.paid_amount = granted
            payment.paid_at = now
            payment.save(update_fields=["paid_amount", "paid_at"])
            total += granted
            ApplicationTransition.objects.create(
                application=application, from_status=application.status, to_status=application.status, by=by, at=now,
                note=_("支付批次 %(no)s，凭证 %(ref)s") % {"no": batch.number, "ref": reference})
        batch.status = PaymentBatch.Status.PAID
        batch.reference = reference.strip()
        batch.paid_by = by
        batch.paid_at = now
        batch.total_amount = total
        batch.save(update_fields=["status", "reference", "paid_by", "paid_at", "total_amount"])
    return batch


@transaction.atomic
def adjustment_resolve(*, adjustment: PaymentAdjustment, by, note: str) -> PaymentAdjustment:
    """Mark a difference handled (补发 paid out, or overpayment recovered / written off)."""
    adjustment = PaymentAdjustment.objects.select_for_update().select_related("bill").get(pk=adjustment.pk)
    require(by, "claims.resolve", district_id=adjustment.bill.district_id)
    if adjustment.status != PaymentAdjustment.Status.OPEN:
        raise ValidationError(_("该差额已处理。"), code="not_open")
    if not note.strip():
        raise ValidationError({"note": ValidationError(_("请填写处理说明。"), code="required")})
    adjustment.status = PaymentAdjustment.Status.RESOLVED
    adjustment.resolved_by = by
    adjustment.resolved_at = timezone.now()
    adjustment.note = note
    adjustment.save(update_fields=["status", "resolved_by", "resolved_at", "note"])
    return adjustment


# --------------------------------------------------------------------------------------------
# Attachments (出院小结, 票据 ...)
# --------------------------------------------------------------------------------------------

# What a file's first bytes must be: the type is decided by content, never by the name.
ATTACHMENT_SIGNATURES = ((b"%PDF-", "application/pdf", (".pdf",)),
                         (b"\x89PNG\r\n\x1a\n", "image/png", (".png",)),
                         (b"\xff\xd8\xff", "image/jpeg", (".jpg", ".jpeg")))


def attachment_type(head: bytes, name: str) -> str:
    """The content type of an upload from its first bytes; the name's extension must agree."""
    lowered = name.lower()
    for signature, content_type, extensions in ATTACHMENT_SIGNATURES:
        if head.startswith(signature):
            if not lowered.endswith(extensions):
                raise ValidationError({"file": ValidationError(
                    _("文件内容是 %(type)s，与扩展名不符。"), code="extension_mismatch", params={"type": content_type})})
            return content_type
    raise ValidationError({"file": ValidationError(_("只接受 PDF、JPG 或 PNG 文件（按文件内容判断）。"), code="file_type")})


@transaction.atomic
def claim_attach(*, claim: Claim, file, kind: str, by) -> ClaimAttachment:
    """Attach a paper to a claim (any state: late papers are evidence). Caseworkers and reviewers."""
    import hashlib

    from django.conf import settings

    _require(by, "claims.attach", claim)
    if file is None:
        raise ValidationError({"file": ValidationError(_("请选择文件。"), code="required")})
    if file.size > settings.ATTACHMENT_MAX_BYTES:
        raise ValidationError({"file": ValidationError(
            _("文件不能超过 %(mb)s MB。"), code="file_too_large",
            params={"mb": settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)})})
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    content_type = attachment_type(head, file.name)
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    attachment = ClaimAttachment(claim=claim, kind=kind, original_name=file.name[:200], content_type=content_type,
                                 size=file.size, sha256=digest.hexdigest(), uploaded_by=by)
    attachment.full_clean(exclude=["file", "claim", "uploaded_by"])
    attachment.file.save("upload", file, save=False)
    attachment.save()
    _record(claim, from_status=claim.status, to_status=claim.status, by=by,
            note=_("上传材料：%(kind)s %(name)s") % {"kind": attachment.get_kind_display(), "name": attachment.original_name})
    return attachment


# Correction decisions (更正决定) and payment adjustments (补发 / 追回)
# --------------------------------------------------------------------------------------------


def corrections_sync(*, claim_ids: Iterable[int], by=None, reason: str = "") -> int:
    """Granted claims whose bills' current figures differ from the grant get ONE proposed
    correction (the grant stands until a second person approves it); a stale proposal is
    superseded, none is left when the figures agree again. Returns how many were proposed.

    Called by the recalculation core for the claims whose bills it changed (both paths), and by
    :func:`correction_propose`. A claim being approved right now (grant not set yet) is skipped.
    """
    ids = sorted(set(claim_ids))
    if not ids:
        return 0
    bills: dict[int, list[tuple[int, Decimal, Decimal | None]]] = defaultdict(list)
    for pk, claim_id, total, granted in (Bill.objects.filter(claim_id__in=ids).order_by("discharge_date", "id")
                                         .values_list("pk", "claim_id", "total_assistance", "granted_amount")):
        bills[claim_id].append((pk, total, granted))
    waiting = {c.claim_id: c for c in Correction.objects.filter(claim_id__in=ids, status=Correction.Status.PROPOSED)}
    counted_by, room = relief_room(bill_ids=[pk for rows in bills.values() for pk, _t, _g in rows])
    proposed = 0
    now = timezone.now()
    for claim in money.claims_granted(Claim.objects.filter(pk__in=ids)).only("pk", "status"):
        rows = bills.get(claim.pk, [])
        if not rows or any(granted is None for _pk, _total, granted in rows):
            continue
        detail, before, after = [], ZERO, ZERO
        for pk, total, granted in rows:
            new = total
            application = counted_by.get(pk)
            if application is not None:
                # burden that relief on application already covered is not assisted twice
                # (京 六(三): relief comes after every other assistance): the raise fits the room left
                new = relief_fit(granted=granted, computed=total, room=room, application_id=application)
            before += granted
            after += new
            if new != granted:
                detail.append({"bill_id": pk, "before": str(granted), "after": str(new), "computed": str(total)})
        current = waiting.get(claim.pk)
        if current is not None and current.bills == detail and current.granted_after == after:
            continue
        if current is not None:
            current.status = Correction.Status.SUPERSEDED
            current.reviewed_at = now
            current.save(update_fields=["status", "reviewed_at"])
        if detail:
            Correction.objects.create(claim_id=claim.pk, granted_before=before, granted_after=after, bills=detail,
                                      proposed_by=by if getattr(by, "pk", None) else None,
                                      reason=reason or _("重新计算的救助金额与已核定金额不一致（认定、结算单、政策或统计数据变化）"))
            proposed += 1
    return proposed


def relief_room(*, bill_ids: Iterable[int], granted_now: dict[int, Decimal] | None = None,
                lock: bool = False) -> tuple[dict[int, int], dict[int, Decimal]]:
    """Relief on application already granted on these bills (京 六(三)): which application counted
    each bill, and per application the burden its counted bills still leave after assistance and
    relief (Σ counted burden − assistance granted − relief; may be 0 or less). An upward change
    on such a bill may raise its grant only within that room (:func:`relief_fit`), so assistance +
    relief never exceed the burden. THE rule for both kinds of grant: a claim's correction
    (:func:`corrections_sync`) and a one-stop bill's recomputed figure (``claims.recalc``).

    ``granted_now``: bill id -> the grant a caller has already decided but not written yet (the
    recalculation core, for the bills it changed earlier in the same chunk). ``lock``: the
    applications are locked (``SELECT … FOR UPDATE``, by id) before the room is read, so two
    recalculation chunks holding members of one household never both spend the same room."""
    from applications.models import Application, CountedBill

    bill_ids = list(bill_ids)
    if not bill_ids:
        return {}, {}
    pairs = list(CountedBill.objects.filter(bill_id__in=bill_ids, counted=True,
                                            application__in=money.applications_granted(Application.objects.all()))
                 .values_list("bill_id", "application_id"))
    if not pairs:
        return {}, {}
    counted_by = {bill_id: app_id for bill_id, app_id in sorted(pairs)}
    app_ids = sorted({a for _b, a in pairs})
    apps_q = Application.objects.filter(pk__in=app_ids).order_by("pk")
    if lock:
        apps_q = apps_q.select_for_update()
    apps = {a.pk: a for a in apps_q}
    overrides = granted_now or {}
    room: dict[int, Decimal] = {}
    for app_id, app in apps.items():
        left = ZERO
        for cb in CountedBill.objects.filter(application_id=app_id, counted=True).select_related("bill"):
            if cb.bill is None:
                left += cb.burden
                continue
            granted = overrides.get(cb.bill_id)
            left += money.bill_burden(cb.bill) - (money.bill_granted(cb.bill) if granted is None else granted)
        room[app_id] = left - money.relief_granted_of(app)
    return counted_by, room


def relief_fit(*, granted: Decimal, computed: Decimal, room: dict[int, Decimal], application_id: int) -> Decimal:
    """The new grant of a bill counted by a granted relief on application (京 六(三)) whose figure
    changed from ``granted`` to ``computed``: a decrease is taken as it is; an increase fits only
    the room the relief leaves (:func:`relief_room`), which it uses up (``room`` is updated in
    place). A decrease gives room back only once it is written (the room is read from the grants,
    or from ``relief_room(granted_now=…)``)."""
    if computed <= granted:
        return computed
    allowed = min(computed - granted, max(ZERO, room[application_id]))
    room[application_id] -= allowed
    return granted + allowed


def correction_propose(*, claim: Claim, by, reason: str) -> Correction | None:
    """A caseworker asks for a correction of a granted claim (e.g. after correcting a bill): the
    claim's person-years are recomputed and any difference from the grant is proposed."""
    claim = Claim.objects.get(pk=claim.pk)
    _require(by, "claims.propose_correction", claim)
    if not reason.strip():
        raise ValidationError({"reason": ValidationError(_("请填写更正原因。"), code="reason_required")})
    claim = Claim.objects.get(pk=claim.pk)
    if not money.is_claim_granted(claim.status):
        raise ValidationError(_("只有已批准或已支付的申请可以更正。"), code="not_granted")
    with transaction.atomic():
        years = _years_of(claim.pk)
        recompute_person_years(person_years=[(claim.person_id, y) for y in years])
        Correction.objects.filter(claim=claim, status=Correction.Status.PROPOSED).update(
            status=Correction.Status.SUPERSEDED, reviewed_at=timezone.now())
        corrections_sync(claim_ids=[claim.pk], by=by, reason=reason.strip())
    return Correction.objects.filter(claim=claim, status=Correction.Status.PROPOSED).first()


def _effectively_paid(bill: Bill) -> Decimal:
    """What left the fund for a paid claim bill: the payment and every resolved 补发 / 追回."""
    paid = bill.paid_amount or ZERO
    for kind, amount in bill.adjustments.filter(status=PaymentAdjustment.Status.RESOLVED).values_list("kind", "amount"):
        paid += amount if kind == AdjustmentKind.SUPPLEMENTARY else -amount
    return paid


def correction_approve(*, correction: Correction, reviewer, note: str = "") -> Correction:
    """A second person approves a proposed correction: the grant becomes the corrected figure,
    a correction letter replaces the claim's letter in force (``reports.services.letter_correct``),
    and for a paid claim one open payment adjustment per bill is recorded for what is still to pay
    (补发, ``supplementary``) or to recover (追回, ``recovery``): H16's payment files and recovery
    work close them. An approved, unpaid claim simply has the new ``approved_amount`` (its open
    payment batch total follows). The reviewer may not be the proposer (双人复核)."""
    _require(reviewer, "claims.correct", correction.claim)
    with transaction.atomic():
        claim = correction.claim
        for year in _years_of(claim.pk):
            lock_ledger(person_id=claim.person_id, year=year)
        correction = Correction.objects.select_for_update().select_related("claim").get(pk=correction.pk)
        claim = Claim.objects.select_for_update().get(pk=correction.claim_id)
        if correction.status != Correction.Status.PROPOSED:
            raise ValidationError(_("该更正决定已处理。"), code="not_proposed")
        if correction.proposed_by_id is not None and correction.proposed_by_id == reviewer.pk:
            raise ValidationError(_("提出更正的人员不能复核同一更正（双人复核）。"), code="four_eyes")
        bills = {b.pk: b for b in claim.bills.all()}
        for line in correction.bills:
            bill = bills.get(line["bill_id"])
            if bill is None or bill.total_assistance != Decimal(line.get("computed", line["after"])):
                raise ValidationError(_("结算单金额已再次变化，请重新计算后复核。"), code="stale")
        now = timezone.now()
        for line in correction.bills:
            bill = bills[line["bill_id"]]
            bill.granted_amount = Decimal(line["after"])  # the computed figure, or less where relief covered it
            bill.save(update_fields=["granted_amount"])
            if claim.status == ClaimStatus.PAID:
                paid = _effectively_paid(bill)
                diff = bill.granted_amount - paid
                PaymentAdjustment.objects.filter(bill=bill, status=PaymentAdjustment.Status.OPEN).update(
                    status=PaymentAdjustment.Status.SUPERSEDED, resolved_at=now)
                if diff != 0:
                    PaymentAdjustment.objects.create(
                        bill=bill, kind=AdjustmentKind.SUPPLEMENTARY if diff > 0 else AdjustmentKind.RECOVERY,
                        amount=abs(diff), paid_amount=paid, computed_amount=bill.granted_amount, correction=correction)
        claim.approved_amount = sum((money.bill_granted(b) for b in bills.values()), ZERO)
        claim.save(update_fields=["approved_amount", "updated_at"])
        if claim.payment_batch_id is not None and claim.status == ClaimStatus.APPROVED:
            batch = PaymentBatch.objects.select_for_update().get(pk=claim.payment_batch_id)
            if batch.status == PaymentBatch.Status.OPEN:
                batch.total_amount = payment_batch_total(batch)
                batch.save(update_fields=["total_amount"])
        correction.status = Correction.Status.APPROVED
        correction.reviewed_by = reviewer
        correction.reviewed_at = now
        correction.note = note
        correction.save(update_fields=["status", "reviewed_by", "reviewed_at", "note"])
        _record(claim, from_status=claim.status, to_status=claim.status, by=reviewer,
                note=_("更正决定：%(before)s → %(after)s 元") % {"before": correction.granted_before,
                                                                "after": correction.granted_after})
        pk, by_pk = correction.pk, reviewer.pk
        transaction.on_commit(lambda: issue_correction_letter_now(correction_id=pk, by_id=by_pk))
    return correction


def issue_correction_letter_now(*, correction_id: int, by_id: int) -> None:
    """The correction letter: replaces the claim's approval letter in force (a new number, the
    corrected amount); without one, the approval letter is issued. Logged, never raised: the
    correction stands and the letter can be issued again from reports."""
    try:
        from reports import services as report_services
        from reports.models import Letter
    except ImportError:
        return
    from django.contrib.auth import get_user_model

    correction = Correction.objects.select_related("claim").get(pk=correction_id)
    by = get_user_model().objects.get(pk=by_id)
    try:
        current = (Letter.objects.filter(claim=correction.claim, kind="claim_approved", replaced_by__isnull=True)
                   .order_by("-id").first())
        reason = _("更正决定：救助金额由 %(before)s 元更正为 %(after)s 元。%(why)s") % {
            "before": correction.granted_before, "after": correction.granted_after, "why": correction.reason}
        if current is not None:
            report_services.letter_correct(letter=current, reason=reason, by=by)
        else:
            report_services.letter_issue(kind="claim_approved", claim=correction.claim, by=by)
    except Exception:  # noqa: BLE001 - see docstring
        logger.exception("correction letter for correction %s could not be issued", correction_id)


# --------------------------------------------------------------------------------------------
# A damaged ledger: reported by every path, repaired only here (explicit, logged)
# --------------------------------------------------------------------------------------------


def _ledger_snapshot(ledger: PersonYearLedger) -> dict[str, Any]:
    return {"deductible_used": str(ledger.deductible_used), "tilted_base": str(ledger.tilted_base),
            "total_assistance": str(ledger.total_assistance), "bills_counted": ledger.bills_counted,
            "buckets": {b.bucket: {"cap": None if b.cap is None else str(b.cap), "used": str(b.used)}
                        for b in ledger.buckets.all()}}


def ledger_repair(*, person_id: int, year: int, by, reason: str) -> LedgerRepair:
    """Rebuild one person-year's ledger from its bills and draws, on purpose, with the reason,
    the problems found and the before/after recorded (``LedgerRepair``). The only way a damaged
    ledger is rewritten: approvals refuse it and recalculation runs skip and report it."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ValidationError(_("请填写修复原因。"), code="reason_required")})
    with transaction.atomic():
        ledger = lock_ledger(person_id=person_id, year=year)
        found = ledger_damage(person_id=person_id, years=[year])
        before = _ledger_snapshot(ledger)
        # A fresh ledger is rebuilt by the core (nothing to compare it with).
        LedgerBucket.objects.filter(ledger=ledger).delete()
        PersonYearLedger.objects.filter(pk=ledger.pk).update(deductible_used=ZERO, tilted_base=ZERO,
                                                             total_assistance=ZERO, bills_counted=0)
        recompute_person_years(person_years=[(person_id, year)])
        ledger.refresh_from_db()
        repair = LedgerRepair.objects.create(ledger=ledger, by=by if getattr(by, "pk", None) else None, reason=reason,
                                             violations=found, before=before, after=_ledger_snapshot(ledger))
    logger.warning("ledger %s (person %s, %s) repaired by %s: %s; found %s", ledger.pk, person_id, year,
                   getattr(by, "pk", None), reason, found)
    return repair
