"""THE recalculation core: one per-person-year loop for every path.

:func:`recompute_chunk` recomputes the person-years of a range of people (the nightly chunks,
``monitoring.services.chunk_execute``) or of a list of person-years
(``claims.services.recompute_person_years``: approvals, imports, commands). It batches the reads
(a few set-based queries per chunk) and the writes (COPY + UPDATE on PostgreSQL); the rule applied
to each person-year is the same, because there is only this one:

- the bills: every bill of the person-year except rejected ones (``claims.money.bills_recomputed``);
- the order (:func:`decision_key`): counted bills (``claims.money.CAP_STATUSES``) in the order
  their figures were decided: a one-stop bill at its settlement date, a claim's bill at its
  approval (``Bill.counted_at``). A new approval therefore only gets the room left and never
  changes an earlier decision; pending claims' bills get a suggestion computed on a copy of the
  state after every counted bill;
- the engine (``policies.engine.engine.assess_bill``) on the inputs of ``policies.adapters``
  (built from rows), the policy chosen by :class:`PolicyPicker` (``policies.selectors.policy_in_force``'s
  rule, in memory);
- the year start: the draws paid outside the bills (``LedgerDraw``, e.g. Ningbo relief on
  application) are taken first (``claims.services.seed_year_state``);
- the write rule: a bill's computed fields are written when they differ or were never computed
  (the explanation compared through its digest, ``Bill.computation_digest``); a one-stop bill
  paid at the hospital keeps what was paid and a difference becomes one open adjustment
  (:func:`reconcile_paid`); a *granted* claim keeps its grant and a difference becomes a proposed
  correction decision (``claims.services.corrections_sync``);
- relief on application comes after every other assistance (京 六(三)): an upward change of a
  one-stop bill counted by a granted relief fits only the room that relief leaves
  (:class:`ReliefFit`, ``claims.services.relief_room``/``relief_fit``, the rule a claim's
  correction follows too); the grant is ``Bill.granted_amount``, the capped part is recorded and
  explained in the computation (``relief_cap``);
- the ledger: buckets from the counted bills' bucket lines and the draws
  (``claims.services.ledger_buckets``), used = the engine's year state;
- a damaged ledger (one that does not add up to its unchanged bills) is reported and left alone:
  the person-year is skipped, never rewritten (``claims.services.ledger_repair`` repairs it, logged);
- the locking protocol: the ledger rows are locked (``SELECT ... FOR UPDATE``, ordered by person
  and year) before the bills are read.
"""
from __future__ import annotations

import copy
import gc
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.db.models import Q
from django.db.models.functions import ExtractYear
from django.utils import timezone

from policies.engine.types import BillIn, Flags  # pure dataclasses: built once per bill

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
PAID_BATCH = 5000  # bills per _reconcile_paid call (keeps IN lists far below PostgreSQL's 65535 parameters)


# --------------------------------------------------------------------------------------------
# Policy choice in memory (mirrors policies.selectors.policy_in_force)
# --------------------------------------------------------------------------------------------


class PolicyPicker:
    """Usable policy versions loaded once; ``pick(region, on)`` chooses like ``policy_in_force``."""

    def __init__(self, policies: Sequence[Any], all_policies: dict[int, Any]) -> None:
        self._by_region: dict[int | None, list[Any]] = defaultdict(list)
        # latest effective_from first, then the latest version (policy_in_force's ordering)
        for policy in sorted(policies, key=lambda p: (p.effective_from, p.version), reverse=True):
            self._by_region[policy.region_id].append(policy)
        self._all = all_policies
        self._pick_cache: dict[tuple[int | None, date], Any] = {}
        self._stats: dict[int | None, Any] = {}
        self._specs: dict[int, Any] = {}
        self._standards: Any = None  # policies.selectors.DistrictStandards, loaded on first use

    @classmethod
    def load(cls) -> PolicyPicker:
        from policies.models import Policy
        from policies.selectors import usable_policies

        usable = list(usable_policies().select_related("region"))
        return cls(usable, {p.pk: p for p in Policy.objects.all()})

    def pick(self, region_id: int | None, on: date):
        """``policies.selectors.choose_in_force`` (THE rule of ``policy_in_force``) on the versions
        loaded once, memoised per (region, date)."""
        key = (region_id, on)
        try:
            return self._pick_cache[key]
        except KeyError:
            pass
        # imported on a miss only: this runs once per bill of a nightly chunk (issue 12)
        from policies.selectors import choose_in_force

        own = self._by_region.get(region_id, []) if region_id is not None else []
        found = choose_in_force([*own, *self._by_region.get(None, ())], region_id=region_id, on=on)
        self._pick_cache[key] = found
        return found

    def spec(self, region_id: int | None, on: date):
        policy = self.pick(region_id, on)
        return None if policy is None else self.spec_for(policy)

    def spec_for(self, policy, district_id: int | None = None, on: date | None = None):
        """``spec_of(policy)``, memoised for the picker's life (one chunk or one run); with a
        district and date, that district's standard applied (区级标准, ``DistrictStandards``).
        Runs once per bill of a nightly chunk: the imports happen on a miss only (issue 12)."""
        pk = policy.id  # the attribute, not the ``pk`` property (once per bill)
        spec = self._specs.get(pk)
        if spec is None:
            from policies.selectors import spec_of

            spec = self._specs[pk] = spec_of(policy)
        if district_id is not None and on is not None:
            standards = self._standards
            if standards is None:
                from policies.selectors import DistrictStandards

                standards = self._standards = DistrictStandards()
            if standards:
                return standards.spec(policy, spec, district_id, on)
        return spec

    def spec_by_id(self, policy_id: int | None):
        policy = self._all.get(policy_id) if policy_id is not None else None
        return None if policy is None else self.spec_for(policy)

    def stats(self, region_id: int | None):
        try:
            return self._stats[region_id]
        except KeyError:
            from policies.selectors import region_stats

            found = self._stats[region_id] = region_stats(region_id)
            return found


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------

BILL_FIELDS = (
    "id", "person_id", "claim_id", "status", "visit_type", "admission_date", "discharge_date",
    "total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid",
    "referral_compliant", "in_province", "major_disease", "rare_disease", "good_samaritan_injury",
    "institution__designated", "hospital_assistance_paid", "paid_amount",
    "policy_id", "assistance", "tilted", "special", "total_assistance", "category", "computation_digest", "computed",
    "counted_at", "district_id", "granted_amount",
)
# ``computed``: whether ``computed_at`` is set, read as a boolean (the time itself is never read
# here, and building a timezone-aware datetime per row costs more than the flag: issue 12)
# The computed fields a recomputation writes (claims.services.COMPUTED_FIELDS), in tuple order.
BILL_WRITE_FIELDS = ("policy", "assistance", "tilted", "special", "total_assistance", "category", "computation",
                     "computation_digest", "computed_at")
(B_ID, B_PERSON, B_CLAIM, B_STATUS, B_VISIT, B_START, B_END, B_TOTAL, B_SCOPE, B_BASIC, B_CRITICAL, B_OTHER,
 B_REFERRAL, B_INPROV, B_MAJOR, B_RARE, B_GOODSAM, B_DESIGNATED, B_HOSP_PAID, B_PAID_AMOUNT,
 B_POLICY, B_ASSIST, B_TILTED, B_SPECIAL, B_TOTAL_ASSIST, B_CATEGORY, B_DIGEST, B_COMPUTED,
 B_COUNTED_AT, B_DISTRICT, B_GRANTED) = range(len(BILL_FIELDS))


def _computed_flag():
    from django.db.models import BooleanField, ExpressionWrapper

    return ExpressionWrapper(Q(computed_at__isnull=False), output_field=BooleanField())


@contextmanager
def gc_paused():
    """The cyclic garbage collector off for one chunk (restored after, whatever happens).

    A chunk builds ~100,000 short-lived objects (rows, Decimals, results), none of them in a
    reference cycle; with the collector on, each burst of allocations triggers collections that
    walk every tracked object of the worker (issue 12: a measurable share of the chunk). The
    chunk's memory is bounded by its size; what is garbage is freed by reference counting.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _bill_in(row: tuple):
    """``policies.adapters.bill_in`` from a row (same fields, same mapping)."""
    return BillIn(
        id=str(row[B_ID]), visit_type=row[B_VISIT], start=row[B_START], end=row[B_END],
        total_cost=row[B_TOTAL], policy_scope_cost=row[B_SCOPE], basic_paid=row[B_BASIC],
        critical_paid=row[B_CRITICAL], other_paid=row[B_OTHER],
        flags=Flags(designated=bool(row[B_DESIGNATED]), referral_compliant=row[B_REFERRAL], in_province=row[B_INPROV],
                    major_disease=row[B_MAJOR], rare_disease=row[B_RARE], good_samaritan_injury=row[B_GOODSAM]),
    )


def stored_computation_without_lines():
    """The stored computation without ``explanation.lines`` (the invariant check reads the bucket
    and item lines; the human-readable lines are the largest part and are not needed)."""
    from django.db import connection
    from django.db.models import JSONField
    from django.db.models.expressions import RawSQL

    if connection.vendor == "postgresql":
        return RawSQL("claims_bill.computation #- '{explanation,lines}'", [], output_field=JSONField())
    return RawSQL("json_remove(claims_bill.computation, '$.explanation.lines')", [], output_field=JSONField())


class PaidBill(NamedTuple):
    """What ``reconcile_paid`` needs of a paid bill: what was paid (``claims.models.paid_of``)
    and the new grant (the newly computed total, or less where relief on application already
    covered the burden: :func:`relief_fit_one_stop`)."""

    pk: int
    paid: Decimal
    total_assistance: Decimal


def fast_update(model, fields: Sequence[str], rows: Sequence[tuple]) -> None:
    """UPDATE ``rows`` (``(pk, value, ...)`` in ``fields`` order) in bulk.

    PostgreSQL: COPY into a temporary table, then one ``UPDATE ... FROM`` (Django's
    ``bulk_update`` builds a CASE per row and field: minutes for a million rows). Elsewhere:
    ``bulk_update``.
    """
    import json

    from django.db import connection

    if not rows:
        return
    if connection.vendor != "postgresql":
        objs = []
        for row in rows:
            obj = model(pk=row[0])
            for name, value in zip(fields, row[1:], strict=True):
                setattr(obj, model._meta.get_field(name).attname, value)
            objs.append(obj)
        model.objects.bulk_update(objs, list(fields), batch_size=1000)
        return
    table = model._meta.db_table
    columns, types, encoders = [], [], []
    for name in fields:
        field = model._meta.get_field(name)
        columns.append(field.column)
        db_type = field.rel_db_type(connection) if field.is_relation else field.db_type(connection)
        types.append(db_type)
        encoders.append(json.dumps if field.get_internal_type() == "JSONField" else None)
    temp = f"tmp_recalc_{table}"
    definition = ", ".join(f'"{c}" {t}' for c, t in zip(columns, types, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TEMP TABLE "{temp}" (id bigint PRIMARY KEY, {definition})')  # noqa: S608
        try:
            with cursor.cursor.copy(f'COPY "{temp}" (id, {", ".join(chr(34) + c + chr(34) for c in columns)}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([row[0], *(enc(v) if enc and v is not None else v
                                              for enc, v in zip(encoders, row[1:], strict=True))])
            assignments = ", ".join(f'"{c}" = t."{c}"' for c in columns)
            cursor.execute(f'UPDATE "{table}" AS m SET {assignments} FROM "{temp}" AS t WHERE m.id = t.id')  # noqa: S608
        finally:
            cursor.execute(f'DROP TABLE IF EXISTS "{temp}"')


def _copy_rows(copy, fields: Sequence[Any], objs: Sequence[Any]) -> None:
    """Write each object's ``fields`` to a COPY as ``save`` would store them: ``pre_save``
    (``auto_now``/``auto_now_add``) and JSON encoded with the field's own encoder."""
    import json

    encoders = {f.attname: f.encoder for f in fields if f.get_internal_type() == "JSONField"}
    for obj in objs:
        row = []
        for f in fields:
            value = f.pre_save(obj, add=True)
            if f.attname in encoders and value is not None:
                value = json.dumps(value, cls=encoders[f.attname])
            row.append(value)
        copy.write_row(row)


def copy_insert(model, objs: Sequence[Any]) -> None:
    """INSERT ``objs`` (primary keys already set) with ONE ``COPY ... FROM STDIN`` (PostgreSQL).

    Every concrete column is sent as the object holds it (``auto_now``/``auto_now_add`` filled as
    ``save`` would, JSON encoded with the field's encoder): the statement-level INSERT triggers
    (the fund pre-aggregate) fire once for the whole set. Django's ``bulk_create`` would quote
    every explanation JSON into a client-side array literal, which costs more than the insert
    itself (issue 20 profile). A refused row raises Django's ``IntegrityError``/``DatabaseError``.
    """
    from django.db import connection

    if not objs:
        return
    fields = list(model._meta.concrete_fields)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    with (connection.wrap_database_errors, connection.cursor() as cursor,
          cursor.cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy):
        _copy_rows(copy, fields, objs)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def copy_create(model, objs: Sequence[Any], *, ignore_conflicts: bool = False) -> None:
    """INSERT new ``objs`` (no primary key: the sequence gives it) in ONE statement (PostgreSQL: a
    ``COPY``; with ``ignore_conflicts`` a COPY into a temporary table and one ``INSERT ... SELECT
    ... ON CONFLICT DO NOTHING``). Elsewhere ``bulk_create``. The objects are not given their ids:
    for rows the caller does not read back (the ledgers are re-read under their lock, buckets and
    adjustments are not used after). Django's ``bulk_create`` compiles and binds every value of
    every row in Python: 2.4 s of a cold chunk's 19.5 s for ~16,000 rows (issue 20 profile).
    """
    from django.db import connection

    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=1000, ignore_conflicts=ignore_conflicts)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    table = model._meta.db_table
    target = f"tmp_create_{table}" if ignore_conflicts else table
    with connection.wrap_database_errors, connection.cursor() as cursor:
        if ignore_conflicts:  # the columns only (no NOT NULL id, no constraints); gone with a failed transaction
            cursor.execute(f'CREATE TEMP TABLE "{target}" AS SELECT {columns} FROM "{table}" LIMIT 0')  # noqa: S608
        with cursor.cursor.copy(f'COPY "{target}" ({columns}) FROM STDIN') as copy:
            _copy_rows(copy, fields, objs)
        if ignore_conflicts:
            cursor.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{target}" '  # noqa: S608
                           "ON CONFLICT DO NOTHING")
            cursor.execute(f'DROP TABLE "{target}"')


# --------------------------------------------------------------------------------------------
# Ledger arithmetic shared by the rebuild and the invariant check
# --------------------------------------------------------------------------------------------


def drawn_from_computation(computation: dict, spec) -> dict[str, Decimal]:
    """What a bill drew on each named bucket, read back from its stored computation.

    Regular assistance: each bucket line's ``drawn`` (a line drawn under a tier without a cap only
    where the policy counts uncapped payments, ``caps.count``, POLICY.md §9); special items with a
    bucket: their amount on that bucket; tilted assistance: on ``"tilted"`` when the policy caps it
    (exactly what the engine adds to the year state).
    """
    out: dict[str, Decimal] = {}
    explanation = (computation or {}).get("explanation") or {}
    count_uncapped = spec is not None and getattr(spec, "count_uncapped", False)
    for line in explanation.get("buckets") or ():
        drawn = Decimal(line.get("drawn") or "0")
        if drawn and (line.get("cap") is not None or count_uncapped):
            out[line["name"]] = out.get(line["name"], ZERO) + drawn
    items = explanation.get("items") or ()
    if items and spec is not None:
        special_bucket = {item.code: item.bucket.name for item in spec.special_items if item.bucket is not None}
        for item in items:
            amount = Decimal(item.get("amount") or "0")
            if not amount:
                continue
            if item.get("kind") == "special" and item.get("code") in special_bucket:
                name = special_bucket[item["code"]]
            elif item.get("kind") == "tilted" and spec.tilted is not None and spec.tilted.cap is not None:
                name = "tilted"
            else:
                continue
            out[name] = out.get(name, ZERO) + amount
    return out


def caps_from_computation(computation: dict) -> dict[str, Decimal | None]:
    caps: dict[str, Decimal | None] = {}
    explanation = (computation or {}).get("explanation") or {}
    for line in explanation.get("buckets") or ():
        cap = line.get("cap")
        caps[line["name"]] = None if cap is None else Decimal(cap)
    return caps


def _violations_for(person_id: int, year: int, ledger_buckets: dict[str, tuple[Decimal | None, Decimal]] | None,
                    drawn: dict[str, Decimal], caps: dict[str, Decimal | None]) -> list[dict]:
    """Compare a ledger with its bills. ``ledger_buckets`` None: no ledger row yet (nothing to compare)."""
    out: list[dict] = []
    if ledger_buckets is not None:
        for name in sorted(set(ledger_buckets) | set(drawn)):
            used = ledger_buckets.get(name, (None, ZERO))[1]
            total = drawn.get(name, ZERO)
            if used != total:
                out.append({"code": "ledger_mismatch", "person_id": person_id, "year": year, "bucket": name,
                            "ledger_used": str(used), "bills_drawn": str(total)})
    for name, total in sorted(drawn.items()):
        cap = caps.get(name)
        if ledger_buckets is not None and name in ledger_buckets and ledger_buckets[name][0] is not None:
            cap = ledger_buckets[name][0]
        if cap is not None and total > cap:
            out.append({"code": "cap_exceeded", "person_id": person_id, "year": year, "bucket": name,
                        "cap": str(cap), "bills_drawn": str(total)})
    return out


# --------------------------------------------------------------------------------------------
# The chunk
# --------------------------------------------------------------------------------------------


@dataclass
class PersonYearOutcome:
    """What the core did to one person-year (``claims.services.RecomputeOutcome`` is built from it)."""

    bills_seen: int = 0
    bills_changed: int = 0
    adjustments_created: int = 0
    adjustments_superseded: int = 0
    ledger_changed: bool = False
    total_assistance: Decimal = ZERO
    skipped: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass
class ChunkOutcome:
    person_years: int = 0
    bills_seen: int = 0
    bills_changed: int = 0
    adjustments_created: int = 0
    adjustments_superseded: int = 0
    ledgers_changed: int = 0
    skipped: int = 0
    corrections_proposed: int = 0
    violations: list[dict] = field(default_factory=list)
    by_person_year: dict[tuple[int, int], PersonYearOutcome] = field(default_factory=dict)
    # ``unsaved`` bills (not in the database yet): bill id -> {field name: value} of the computed
    # fields (BILL_WRITE_FIELDS, and ``granted_amount`` when it changes), for the caller to insert with
    unsaved_figures: dict[int, dict[str, Any]] = field(default_factory=dict)


def _year_bounds(only_year: int | None) -> Q:
    if only_year is None:
        return Q()
    return Q(discharge_date__gte=date(only_year, 1, 1), discharge_date__lte=date(only_year, 12, 31))


_BEFORE_ANY = datetime(1, 1, 1, tzinfo=UTC)


def decision_key(*, pk: int, discharge_date: date, counted_at: datetime | None) -> tuple:
    """The order in which a person-year's counted bills were decided (and so are recomputed).

    A one-stop bill from a settlement file was decided at the hospital on its settlement date; a
    one-stop bill reserved through the API (``Bill.counted_at`` = the moment the hospital was told
    what to advance) and a claim's bill at its approval (``Bill.counted_at``) were decided at that
    moment, after the file's one-stop bills settled that day. Bills decided the same way keep
    settlement order (discharge date, then id). POLICY.md §3 "in order of settlement date" is this
    order whenever every bill is settled one-stop or decided in settlement order; deciding out of
    order never re-deals the room an earlier decision already granted or a hospital advanced.
    """
    if counted_at is None:
        return (discharge_date, 0, _BEFORE_ANY, discharge_date, pk)
    return (max(timezone.localdate(counted_at), discharge_date), 1, counted_at, discharge_date, pk)


def in_decision_order(rows: list[tuple], *, counted_at: int = B_COUNTED_AT) -> list[tuple]:
    """A person-year's bill rows (settlement order, as queried) in :func:`decision_key` order;
    ``counted_at`` is the column holding ``Bill.counted_at`` (the simulation reads fewer columns)."""
    if all(row[counted_at] is None for row in rows):
        return rows  # settlement order is the decision order of settlement-file bills
    return sorted(rows, key=lambda r: decision_key(pk=r[B_ID], discharge_date=r[B_END], counted_at=r[counted_at]))


def _one_stop_granted(row: tuple) -> Decimal:
    """The grant a one-stop bill's row holds now (``claims.money.bill_granted``)."""
    return row[B_GRANTED] if row[B_GRANTED] is not None else (row[B_TOTAL_ASSIST] or ZERO)


class ReliefFit:
    """京 六(三) in the core: relief on application comes after every other assistance, so a
    one-stop bill counted by a granted relief is never raised into burden the relief covered.

    A one-stop bill's grant is its computed figure, so a recomputation that finds MORE (e.g. a
    retroactive certification) would otherwise raise the grant at once. For such a bill counted by
    a granted relief, the raise fits only the room the relief leaves: the same rule and the same
    definition as a claim's correction (``claims.services.relief_room`` / ``relief_fit``). The
    computed figure stays in ``total_assistance`` (and on the ledger, like a claim's computed
    figure); the grant is ``Bill.granted_amount`` (read by ``claims.money.bill_granted`` and
    everything built on it: the fund pre-aggregate, relief, warnings, hospital differences), and
    the computation records the cap (``relief_cap``) with an explanation line citing the relief's
    clause. Decreases are taken as they are.

    One per chunk: which bills a granted relief counted is read once, and only when some one-stop
    bill's figure rises (nothing is read on a run that raises nothing); ``decided`` holds the
    one-stop grants changed earlier in the chunk (not written yet), so the room read for a later
    person-year of the same household already reflects them. The applications are locked before
    their room is read (two chunks never spend one room twice).
    """

    def __init__(self, bill_q, *, dry_run: bool) -> None:
        self._bill_q = bill_q
        self._lock = not dry_run
        self._counted: dict[int, int] | None = None
        self.decided: dict[int, Decimal] = {}

    def _counted_bills(self) -> dict[int, int]:
        if self._counted is None:
            from applications.models import Application, CountedBill
            from claims import money

            self._counted = dict(CountedBill.objects.filter(
                bill_id__in=self._bill_q.values("id"), counted=True,
                application__in=money.applications_granted(Application.objects.all()))
                .values_list("bill_id", "application_id"))
        return self._counted

    def fit(self, counted: list[tuple[tuple, Any, dict]], py_decided: dict[int, Decimal]) -> None:
        """Set ``new["granted"]`` (and, where capped, ``granted_amount``, ``relief_cap``, the
        digest) on a person-year's counted bills, in decision order; ``py_decided`` receives the
        one-stop grants that change. Runs once per person-year: the imports happen only when a
        grant rises (issue 12)."""
        rising = []
        for row, _result, new in counted:
            new["granted"] = new["total_assistance"]
            if row[B_CLAIM] is not None:
                continue
            before = _one_stop_granted(row)
            if new["total_assistance"] > before:
                rising.append((row, new, before))
            elif new["total_assistance"] != before:
                py_decided[row[B_ID]] = new["total_assistance"]
        if not rising:
            return
        known = self._counted_bills()
        rising = [item for item in rising if item[0][B_ID] in known]
        if not rising:
            return
        from collections import ChainMap
        from hashlib import md5

        from claims import services as claim_services

        counted_by, room = claim_services.relief_room(bill_ids=[row[B_ID] for row, _n, _b in rising],
                                                      granted_now=ChainMap(py_decided, self.decided), lock=self._lock)
        apps = _relief_apps(set(counted_by.values()))
        for row, new, before in rising:
            application_id = counted_by.get(row[B_ID])
            if application_id is None:
                continue
            computed = new["total_assistance"]
            granted = claim_services.relief_fit(granted=before, computed=computed, room=room,
                                                application_id=application_id)
            py_decided[row[B_ID]] = granted
            if granted == computed:
                continue
            number, clause = apps.get(application_id, ("", ""))
            new["granted"] = new["granted_amount"] = granted
            new["relief_cap"] = {"clause": clause, "application_id": application_id, "application": number,
                                 "computed": str(computed), "granted": str(granted),
                                 "not_assisted": str(computed - granted)}
            new["digest"] = md5(f"{new['digest']}|relief_cap:{application_id}:{granted}".encode(),
                                usedforsecurity=False).hexdigest()


def _count_changed(changed: list[tuple], granted: list[tuple]) -> int:
    """Bills written: computed figures changed, or only the grant (the set only when there is one)."""
    if not granted:
        return len(changed)
    return len({r[0] for r in changed} | {g[0] for g in granted})


def _relief_apps(ids: set[int]) -> dict[int, tuple[str, str]]:
    """Application id -> (number, its first clause: e.g. 京医保发〔2022〕37号 六(三))."""
    from applications.models import Application

    out = {}
    for pk, number, clauses in Application.objects.filter(pk__in=sorted(ids)).values_list(
            "pk", "number", "computation__clauses"):
        out[pk] = (number or "", (clauses or [""])[0] if isinstance(clauses, list) else "")
    return out


def relief_cap_line(cap: dict) -> dict[str, str]:
    """The explanation line of a grant capped by relief on application (京 六(三)): the grant,
    what the rule computed, and the part not assisted because the relief already covered it."""
    return {"key": "relief_cap", "label": "核定救助金额",
            "value": f"{cap['granted']}（按规则计算 {cap['computed']}；"
                     f"依申请救助 {cap['application']} 已覆盖的负担不再救助 {cap['not_assisted']}）",
            "clause": cap.get("clause") or ""}


@gc_paused()
def recompute_chunk(*, lo: int, hi: int, from_years: dict[int, int] | None = None, only_year: int | None = None,
                    dry_run: bool = False, picker: PolicyPicker | None = None,
                    person_years: Iterable[tuple[int, int]] | None = None,
                    unsaved: Sequence[tuple] = ()) -> ChunkOutcome:
    """Recompute the person-years of people ``lo..hi``: all of them, or only ``from_years``
    (person -> first year), or only ``person_years`` (exact pairs; their ledgers are created).

    ``unsaved``: rows (:data:`BILL_FIELDS` order, ``computed`` False) of bills NOT yet in the
    database, their ids already reserved (the settlement import, issue 20: figures computed
    before the insert, each bill written once). They are recomputed with their person-years
    exactly like stored bills (same order, same rule), but their figures are not written: they
    come back in ``outcome.unsaved_figures`` for the caller to insert, in the same transaction
    (ledgers and adjustments written here refer to them; foreign keys are checked at commit).

    Precondition: the caller holds a transaction (``chunk_execute`` and
    ``claims.services.recompute_person_years`` do); the chunk's ledger rows are locked here before
    anything is read. Writes only what differs; with ``dry_run`` nothing.
    """
    from beneficiaries.models import Certification, Person
    from claims import money
    from claims import services as claim_services
    from claims.models import Bill, LedgerBucket, LedgerDraw, PersonYearLedger, paid_of
    from policies.engine.engine import assess_bill
    from policies.engine.types import CertificationIn, PersonIn, YearState

    picker = picker or PolicyPicker.load()
    # the unsaved bills the query would read (money.bills_recomputed): a rejected bill keeps what it has
    unsaved = [row for row in unsaved if row[B_STATUS] not in money.FROZEN_STATUSES]
    outcome = ChunkOutcome()
    now = timezone.now()
    exact = None if person_years is None else set(person_years)
    people_q = Q(person_id__gte=lo, person_id__lte=hi)
    if from_years is not None:
        people_q &= Q(person_id__in=list(from_years))
    if exact is not None:
        people_q &= Q(person_id__in=sorted({p for p, _y in exact}))
        years = sorted({y for _p, y in exact})
        people_q &= Q(discharge_date__gte=date(years[0], 1, 1), discharge_date__lte=date(years[-1], 12, 31))

    def wanted(person_id: int, year: int) -> bool:
        if only_year is not None and year != only_year:
            return False
        if exact is not None:
            return (person_id, year) in exact
        return from_years is None or year >= from_years.get(person_id, 10_000)

    # 1. Create the missing ledger rows, lock all of the chunk's (ordered by person and year: no
    #    lock cycles with approvals, which lock one person's years ascending), THEN read the bills.
    bill_q = money.bills_recomputed(Bill.objects.filter(people_q & _year_bounds(only_year)))
    ledger_people = Q(person_id__gte=lo, person_id__lte=hi)
    if from_years is not None:
        ledger_people &= Q(person_id__in=list(from_years))
    if exact is not None:
        ledger_people &= Q(person_id__in=sorted({p for p, _y in exact}), year__in=sorted({y for _p, y in exact}))
    ledgers_q = PersonYearLedger.objects.filter(ledger_people)
    if only_year is not None:
        ledgers_q = ledgers_q.filter(year=only_year)
    if not dry_run:
        if exact is not None:
            bill_keys = {k for k in exact if wanted(*k)}
        else:
            # no ordering: the model's (-discharge_date, -id) would join the DISTINCT (one row per bill)
            bill_keys = {(p, y) for p, y in bill_q.annotate(y=ExtractYear("discharge_date")).order_by()
                         .values_list("person_id", "y").distinct() if wanted(p, y)}
        bill_keys |= {(row[B_PERSON], row[B_END].year) for row in unsaved
                      if wanted(row[B_PERSON], row[B_END].year)}
        missing = bill_keys - set(ledgers_q.order_by().values_list("person_id", "year"))
        if missing:
            copy_create(PersonYearLedger, [PersonYearLedger(person_id=p, year=y) for p, y in sorted(missing)],
                        ignore_conflicts=True)
    ledger_rows = list(ledgers_q.select_for_update().order_by("person_id", "year")
                       .values_list("id", "person_id", "year", "deductible_used", "tilted_base",
                                    "total_assistance", "bills_counted"))
    ledgers = {(p, y): (lid, ded, tb, ta, bc) for lid, p, y, ded, tb, ta, bc in ledger_rows if wanted(p, y)}
    buckets: dict[int, dict[str, tuple[Decimal | None, Decimal, str, int]]] = defaultdict(dict)
    if ledgers:
        # a subquery on the chunk's ledgers, not a list of ~7,000 ids (compiling that list costs more
        # than the query)
        ledger_ids = {v[0] for v in ledgers.values()}
        for bid, lid, name, cap, used, clause in LedgerBucket.objects.filter(
                ledger_id__in=ledgers_q.order_by().values("id")).order_by().values_list(
                "id", "ledger_id", "bucket", "cap", "used", "clause"):
            if lid in ledger_ids:
                buckets[lid][name] = (cap, used, clause, bid)
    draws: dict[int, list] = defaultdict(list)  # ledger id -> draws paid outside the bills
    if ledgers:
        # the draws of one ledger in the order they were drawn (seed_year_state takes them in turn)
        for draw in LedgerDraw.objects.filter(ledger_id__in=ledgers_q.order_by().values("id")).order_by(
                "ledger_id", "created_at", "id").only("ledger_id", "bucket", "cap", "amount", "clause"):
            if draw.ledger_id in ledger_ids:
                draws[draw.ledger_id].append(draw)

    by_person_year: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    bill_rows = (bill_q.annotate(computed=_computed_flag()).order_by("person_id", "discharge_date", "id")
                 .values_list(*BILL_FIELDS))
    for row in bill_rows:  # ~20,000 short rows: a plain cursor (server-side cursors plan worse)
        year = row[B_END].year
        if wanted(row[B_PERSON], year):
            by_person_year[(row[B_PERSON], year)].append(row)
    unsaved_ids = {row[B_ID] for row in unsaved}
    if unsaved:
        with_unsaved = set()
        for row in unsaved:
            key = (row[B_PERSON], row[B_END].year)
            if wanted(*key):
                by_person_year[key].append(row)
                with_unsaved.add(key)
        for key in with_unsaved:  # the query's order: settlement date, then id
            by_person_year[key].sort(key=lambda r: (r[B_END], r[B_ID]))
    keys = sorted(set(by_person_year) | set(ledgers))
    if exact is not None and dry_run:
        keys = sorted(set(keys) | {k for k in exact if wanted(*k)})
    if not keys:
        return outcome
    person_ids = sorted({p for p, _y in keys})
    certs: dict[int, list] = defaultdict(list)
    cert_q = Certification.objects.filter(person_id__gte=lo, person_id__lte=hi)
    if from_years is not None or exact is not None:
        cert_q = cert_q.filter(person_id__in=person_ids)
    for pid, code, valid_from, valid_until in cert_q.order_by("person_id", "valid_from", "pk").values_list(
            "person_id", "category__code", "valid_from", "valid_until"):
        certs[pid].append(CertificationIn(category=code, valid_from=valid_from, valid_until=valid_until))
    person_q = Person.objects.filter(pk__gte=lo, pk__lte=hi)
    if from_years is not None or exact is not None:
        person_q = person_q.filter(pk__in=person_ids)
    # the policy follows the assistance (hukou) region, not the insurance region (京 十(三), POLICY.md §9)
    people = {pid: (grade, region) for pid, grade, region in person_q.order_by().values_list("id", "disability_grade",
                                                                                    "hukou_district__region_id")}

    counted_statuses = money.CAP_STATUSES
    changed_bills: list[tuple] = []
    changed_claims: set[int] = set()
    paid_bills: list[PaidBill] = []
    bill_key: dict[int, tuple[int, int]] = {}
    ledger_updates: list[tuple] = []
    bucket_creates: list[tuple[tuple[int, int], str, Decimal | None, Decimal, str]] = []
    bucket_updates: list[tuple] = []
    bucket_deletes: list[int] = []
    person_in_cache: dict[int, Any] = {}
    granted_changes: list[tuple[int, Decimal | None]] = []
    relief = ReliefFit(bill_q, dry_run=dry_run)

    for key in keys:
        person_id, year = key
        py = outcome.by_person_year[key] = PersonYearOutcome()
        rows = by_person_year.get(key, [])
        grade, region_id = people.get(person_id, (None, None))
        pin = person_in_cache.get(person_id)
        if pin is None:
            pin = person_in_cache[person_id] = PersonIn(certifications=tuple(certs.get(person_id, ())),
                                                        disability_grade=grade)
        ledger = ledgers.get(key)
        ledger_buckets = buckets.get(ledger[0]) if ledger else None
        stats = picker.stats(region_id)
        state = YearState(year)
        py_draws = draws.get(ledger[0], ()) if ledger else ()
        claim_services.seed_year_state(state, py_draws)
        counted: list[tuple[tuple, Any, dict]] = []  # (row, result, new figures)
        pending: dict[int | None, list[tuple]] = defaultdict(list)
        py_changed: list[tuple] = []
        py_granted: list[tuple[int, Decimal | None]] = []
        py_decided: dict[int, Decimal] = {}
        py_claims: set[int] = set()
        py_paid: list[PaidBill] = []

        def assess(row: tuple, year_state) -> tuple[Any, dict]:
            """(result, new figures); the explanation is built only when it is written."""
            policy = picker.pick(region_id, row[B_END])
            if policy is None:
                return None, {"policy_id": None, "assistance": ZERO, "tilted": ZERO, "special": ZERO,
                              "total_assistance": ZERO, "category": "", "digest": claim_services.NO_POLICY_DIGEST}
            result = assess_bill(picker.spec_for(policy, row[B_DISTRICT], row[B_END]), pin, _bill_in(row), year_state,
                                 stats)
            return result, {"policy_id": policy.id, "assistance": result.assistance, "tilted": result.tilted,
                            "special": result.special, "total_assistance": result.total,
                            "category": result.category or "", "digest": result.digest(), "result": result}

        def apply(row: tuple, new: dict) -> bool:
            """Write the new figures when they differ (the explanation compared by its digest)."""
            one_stop = row[B_CLAIM] is None
            granted_same = not one_stop or row[B_GRANTED] == new.get("granted_amount")
            same = (row[B_POLICY] == new["policy_id"] and row[B_ASSIST] == new["assistance"]
                    and row[B_TILTED] == new["tilted"] and row[B_SPECIAL] == new["special"]
                    and row[B_TOTAL_ASSIST] == new["total_assistance"] and row[B_CATEGORY] == new["category"]
                    and row[B_DIGEST] == new["digest"])
            if same and granted_same and row[B_COMPUTED]:
                return False
            if not granted_same:  # a one-stop grant capped by relief on application (ReliefFit), or no longer
                py_granted.append((row[B_ID], new.get("granted_amount")))
                if same and row[B_COMPUTED]:
                    return True
            result = new.get("result")
            full = (result.to_dict() if result is not None
                    else claim_services.no_policy_result(SimpleNamespace(pk=row[B_ID])))
            cap = new.get("relief_cap")
            if cap is not None:
                full["relief_cap"] = cap
                full.setdefault("explanation", {}).setdefault("lines", []).append(relief_cap_line(cap))
            py_changed.append((row[B_ID], new["policy_id"], new["assistance"], new["tilted"], new["special"],
                               new["total_assistance"], new["category"], full, new["digest"], now))
            if row[B_CLAIM]:
                py_claims.add(row[B_CLAIM])
            return True

        counted_rows = [row for row in rows if row[B_STATUS] in counted_statuses]
        counted_rows = in_decision_order(counted_rows)
        counted_changed = False
        for row in counted_rows:
            result, new = assess(row, state)
            counted.append((row, result, new))
            if result is not None and result.error:
                py.errors.append(f"bill {row[B_ID]}: {result.error}")
        # 京 六(三): a one-stop raise on a bill counted by a granted relief fits the room it leaves
        relief.fit(counted, py_decided)
        for row, _result, new in counted:
            counted_changed = apply(row, new) or counted_changed
            # One-stop bills paid at the hospital: a difference from the grant is an adjustment. A
            # claim's paid bill keeps its grant: a difference becomes a correction (corrections_sync).
            paid = paid_of(row[B_STATUS], row[B_HOSP_PAID], row[B_PAID_AMOUNT]) if not row[B_CLAIM] else None
            if paid is not None:
                py_paid.append(PaidBill(row[B_ID], paid, new["granted"]))
        for row in rows:
            if row[B_STATUS] not in counted_statuses:
                pending[row[B_CLAIM]].append(row)
        for claim_rows in pending.values():
            trial = copy.deepcopy(state)
            for row in claim_rows:
                _result, new = assess(row, trial)
                apply(row, new)

        # Ledger: buckets from the counted bills' results and the draws (claims.services.ledger_buckets).
        wanted_buckets = claim_services.ledger_buckets((r for _row, r, _new in counted), py_draws, state)
        header = {"deductible_used": state.deductible_used, "tilted_base": state.tilted_base,
                  "total_assistance": sum((new["total_assistance"] for _r, _res, new in counted), ZERO),
                  "bills_counted": len(counted)}
        ledger_changed = True
        if ledger is not None:
            lid, ded, tb, ta, bc = ledger
            existing = ledger_buckets or {}
            ledger_changed = (ded, tb, ta, bc) != (header["deductible_used"], header["tilted_base"],
                                                   header["total_assistance"], header["bills_counted"])
            ledger_changed = ledger_changed or set(existing) != set(wanted_buckets) or any(
                existing[n][0] != cap or existing[n][1] != used
                for n, (cap, used, _c) in wanted_buckets.items() if n in existing)
            # Invariant, before writing: every counted bill of this person-year is computed and
            # unchanged, so the ledger must be exactly what they add up to. If it is not, it was written
            # around the ledger lock: report it and leave the person-year untouched for someone
            # to investigate (never silently fixed; claims.services.ledger_repair). A freshly
            # created ledger (no bills counted, no buckets) is simply built.
            # A bill that just entered or left the ledger (an approval: its suggestion becomes its
            # grant unchanged) changes the count: that is a change of the bills, not damage.
            fresh = bc == 0 and not existing
            same_bills = bc == len(counted)
            if ledger_changed and not counted_changed and counted and not fresh and same_bills:
                found = [{"code": "ledger_mismatch", "person_id": person_id, "year": year, "bucket": name,
                          "ledger_used": str(existing[name][1]) if name in existing else "0.00",
                          "bills_drawn": str(wanted_buckets[name][1]) if name in wanted_buckets else "0.00"}
                         for name in sorted(set(existing) | set(wanted_buckets))
                         if (existing.get(name, (None, ZERO))[1] != wanted_buckets.get(name, (None, ZERO))[1])]
                if (ded, tb, ta, bc) != (header["deductible_used"], header["tilted_base"],
                                         header["total_assistance"], header["bills_counted"]):
                    found.append({"code": "ledger_mismatch", "person_id": person_id, "year": year, "bucket": None,
                                  "ledger_used": f"counted={bc} total={ta}",
                                  "bills_drawn": f"counted={header['bills_counted']} total={header['total_assistance']}"})
                outcome.violations += found
                outcome.skipped += 1
                py.skipped = True
                py.errors += [f"ledger_damaged: {v}" for v in found]
                logger.error("invariant violation before recompute, person-year left untouched: %s", found)
                continue
        over = [{"code": "cap_exceeded", "person_id": person_id, "year": year, "bucket": name, "cap": str(cap),
                 "bills_drawn": str(used)}
                for name, (cap, used, _clause) in sorted(wanted_buckets.items()) if cap is not None and used > cap]
        if over:  # the engine never does this; the database would refuse it: report, write nothing
            outcome.violations += over
            outcome.skipped += 1
            py.skipped = True
            py.errors += [f"cap_exceeded: {v}" for v in over]
            logger.error("invariant violation, person-year left untouched: %s", over)
            continue
        outcome.person_years += 1
        outcome.bills_seen += len(rows)
        py.bills_seen = len(rows)
        py.bills_changed = _count_changed(py_changed, py_granted)
        py.ledger_changed = ledger_changed
        py.total_assistance = header["total_assistance"]
        changed_bills += py_changed
        granted_changes += py_granted
        relief.decided.update(py_decided)
        changed_claims |= py_claims
        paid_bills += py_paid
        for paid_bill in py_paid:
            bill_key[paid_bill.pk] = key
        if not ledger_changed:
            continue
        outcome.ledgers_changed += 1
        if ledger is None:  # dry run: the ledger would be created
            continue
        ledger_updates.append((lid, header["deductible_used"], header["tilted_base"], header["total_assistance"],
                               header["bills_counted"], now))
        for name, (_cap, _used, _clause, bid) in existing.items():
            if name not in wanted_buckets:
                bucket_deletes.append(bid)
        for name, (cap, used, clause) in wanted_buckets.items():
            old = existing.get(name)
            if old is None:
                bucket_creates.append((key, name, cap, used, clause))
            elif (old[0], old[1], old[2]) != (cap, used, clause):
                bucket_updates.append((old[3], cap, used, clause))

    outcome.bills_changed = _count_changed(changed_bills, granted_changes)
    if unsaved_ids:  # figures of bills not inserted yet: handed back, never UPDATEd
        for row in changed_bills:
            if row[0] in unsaved_ids:
                outcome.unsaved_figures[row[0]] = dict(zip(BILL_WRITE_FIELDS, row[1:], strict=True))
        for bill_id, granted in granted_changes:
            if bill_id in unsaved_ids:
                outcome.unsaved_figures.setdefault(bill_id, {})["granted_amount"] = granted
        changed_bills = [row for row in changed_bills if row[0] not in unsaved_ids]
        granted_changes = [g for g in granted_changes if g[0] not in unsaved_ids]

    # 2. One-stop bills paid at the hospital keep what was paid; a difference is one open adjustment.
    created, superseded = reconcile_paid(paid_bills, dry_run=dry_run, now=now)
    outcome.adjustments_created = len(created)
    outcome.adjustments_superseded = len(superseded)
    for bill_id in created:
        outcome.by_person_year[bill_key[bill_id]].adjustments_created += 1
    for bill_id in superseded:
        outcome.by_person_year[bill_key[bill_id]].adjustments_superseded += 1
    if dry_run:
        return outcome

    # 3. Writes, only what differs.
    if changed_bills:
        fast_update(Bill, BILL_WRITE_FIELDS, changed_bills)
    if granted_changes:  # one-stop grants capped by relief on application (ReliefFit), or released
        fast_update(Bill, ["granted_amount"], granted_changes)
    if bucket_deletes:
        LedgerBucket.objects.filter(pk__in=bucket_deletes).delete()  # derived data, rebuilt from the bills
    fast_update(PersonYearLedger, ["deductible_used", "tilted_base", "total_assistance", "bills_counted", "updated_at"],
                ledger_updates)
    fast_update(LedgerBucket, ["cap", "used", "clause"], bucket_updates)
    if bucket_creates:
        copy_create(LedgerBucket, [LedgerBucket(ledger_id=ledgers[k][0], bucket=n, cap=c, used=u, clause=cl)
                                   for k, n, c, u, cl in bucket_creates])
    # 4. A granted claim whose figure changed: its grant stands, the difference is proposed as a
    #    correction decision for a second person to review.
    outcome.corrections_proposed = claim_services.corrections_sync(claim_ids=changed_claims)
    return outcome


def reconcile_paid(bills: Sequence[Any], *, dry_run: bool, now) -> tuple[list[int], list[int]]:
    """Paid one-stop bills: (bill ids with an adjustment created, bill ids whose adjustment was superseded).

    What was paid (plus resolved adjustments) is never changed; a recomputed total that differs
    becomes ONE open adjustment (补发 if more is due, 多付待核 if less); an open adjustment of the
    same kind and amount is left alone, a stale one is superseded (never deleted). ``bills``:
    :class:`PaidBill` rows (or anything with ``pk``, ``paid`` and the NEW ``total_assistance``).
    """
    from claims.models import AdjustmentKind, PaymentAdjustment

    paid_bills = [b for b in bills if b.paid is not None]
    created: list[PaymentAdjustment] = []
    superseded: list[int] = []
    superseded_bills: list[int] = []
    for start in range(0, len(paid_bills), PAID_BATCH):
        part = paid_bills[start:start + PAID_BATCH]
        resolved: dict[int, Decimal] = defaultdict(lambda: ZERO)
        open_by_bill: dict[int, tuple[int, str, Decimal]] = {}
        rows = (PaymentAdjustment.objects.filter(bill_id__any=[b.pk for b in part])
                .exclude(status=PaymentAdjustment.Status.SUPERSEDED).order_by()
                .values_list("pk", "bill_id", "kind", "amount", "status"))
        for pk, bill_id, kind, amount, status in rows:
            if status == PaymentAdjustment.Status.RESOLVED:
                resolved[bill_id] += amount if kind == AdjustmentKind.SUPPLEMENTARY else -amount
            else:
                open_by_bill[bill_id] = (pk, kind, amount)
        for bill in part:
            paid = bill.paid + resolved.get(bill.pk, ZERO)
            diff = bill.total_assistance - paid
            current = open_by_bill.get(bill.pk)
            kind = AdjustmentKind.SUPPLEMENTARY if diff > 0 else AdjustmentKind.OVERPAYMENT
            if current is not None and diff != 0 and current[1] == kind and current[2] == abs(diff):
                continue
            if current is not None:
                superseded.append(current[0])
                superseded_bills.append(bill.pk)
            if diff != 0:
                created.append(PaymentAdjustment(bill_id=bill.pk, kind=kind, amount=abs(diff), paid_amount=paid,
                                                 computed_amount=bill.total_assistance))
    if not dry_run:
        if superseded:  # before the creates: at most one OPEN adjustment per bill (a constraint)
            for start in range(0, len(superseded), 10000):
                PaymentAdjustment.objects.filter(pk__in=superseded[start:start + 10000]).update(
                    status=PaymentAdjustment.Status.SUPERSEDED, resolved_at=now)
        copy_create(PaymentAdjustment, created)
    return [a.bill_id for a in created], superseded_bills


# --------------------------------------------------------------------------------------------
# Invariants from the database
# --------------------------------------------------------------------------------------------


def check_invariants(*, person_ids: Iterable[int], only_year: int | None = None,
                     picker: PolicyPicker | None = None) -> list[dict]:
    """Ledger vs counted bills and draws paid outside them, and capped use vs cap, for these
    people (read-only)."""
    from claims import money
    from claims.models import Bill, LedgerBucket, LedgerDraw, PersonYearLedger

    ids = list(person_ids)
    if not ids:
        return []
    picker = picker or PolicyPicker.load()
    ledger_q = PersonYearLedger.objects.filter(person_id__in=ids)
    bill_q = money.bills_counted_for_caps(Bill.objects.filter(person_id__in=ids))
    if only_year is not None:
        ledger_q = ledger_q.filter(year=only_year)
        bill_q = bill_q.filter(_year_bounds(only_year))
    ledgers = {lid: (p, y) for lid, p, y in ledger_q.values_list("id", "person_id", "year")}
    ledger_buckets: dict[tuple[int, int], dict[str, tuple[Decimal | None, Decimal]]] = {v: {} for v in ledgers.values()}
    for lid, name, cap, used in LedgerBucket.objects.filter(ledger_id__in=list(ledgers)).values_list(
            "ledger_id", "bucket", "cap", "used"):
        ledger_buckets[ledgers[lid]][name] = (cap, used)
    drawn: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(dict)
    caps: dict[tuple[int, int], dict[str, Decimal | None]] = defaultdict(dict)
    rows = bill_q.annotate(stored=stored_computation_without_lines()).values_list(
        "person_id", "discharge_date", "policy_id", "stored")
    for person_id, end, policy_id, computation in rows.iterator(chunk_size=5000):
        key = (person_id, end.year)
        for name, amount in drawn_from_computation(computation, picker.spec_by_id(policy_id)).items():
            drawn[key][name] = drawn[key].get(name, ZERO) + amount
        caps[key].update(caps_from_computation(computation))
    for lid, name, cap, amount in LedgerDraw.objects.filter(ledger_id__in=list(ledgers)).values_list(
            "ledger_id", "bucket", "cap", "amount"):
        key = ledgers[lid]
        drawn[key][name] = drawn[key].get(name, ZERO) + amount
        if cap is not None and caps[key].get(name) is None:
            caps[key][name] = cap
    out: list[dict] = []
    for key in sorted(set(ledger_buckets) | set(drawn)):
        out += _violations_for(key[0], key[1], ledger_buckets.get(key), drawn.get(key, {}), caps.get(key, {}))
    return out
