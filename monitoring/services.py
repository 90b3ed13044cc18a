"""Writes of the monitoring app: recalculation runs, chunks, early warnings, invariants.

A run (:class:`RecalcRun`) goes through four steps, the same in the nightly Celery chain
(``tasks.py``) and in ``manage.py recalculate`` (synchronously, :func:`run_synchronously`):

1. :func:`run_plan`: certifications whose coverage ended since the last run (expiry, per the
   policy's ``coverage_ends``), and every person-year touched since the last successful run
   (incremental) or every person (``full``), cut into chunks of person ids;
2. :func:`chunk_execute` per chunk (a Celery group: several workers share a run): recompute the
   chunk's person-years with the bulk path :func:`recompute_chunk`;
3. :func:`warnings_refresh`: early warnings (预警监测, POLICY.md §6);
4. :func:`invariants_check` and :func:`run_finish`.

Chunks are idempotent: a chunk recomputes from the bills and certifications, writes only what
differs, and records itself as done (:class:`RecalcChunk`) in the same transaction as its writes,
so a redelivered chunk (``acks_late``) changes nothing and counts nothing twice.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaries.models import Certification, Household, Person
from organizations.permissions import require

from . import bulk
from .models import EarlyWarning, RecalcChunk, RecalcRun, RunStatus, RunTrigger, WarningStatus
from .selectors import last_successful_run

logger = logging.getLogger(__name__)

CHUNK_PEOPLE = int(getattr(settings, "RECALC_CHUNK_PEOPLE", 4000))
ALL_YEARS = 0  # from_year 0: every year of the person


# --------------------------------------------------------------------------------------------
# Run lifecycle
# --------------------------------------------------------------------------------------------


def run_create(*, full: bool = False, year: int | None = None, person_id: int | None = None,
               dry_run: bool = False, trigger: str = RunTrigger.NIGHTLY, by=None) -> RecalcRun:
    """A new run record; the incremental cut-off is the last successful full-scope run's start.

    Without any earlier successful run there is nothing to be incremental against: the run is full.
    """
    if by is not None:  # a person starting a run (the nightly task and commands pass none)
        from organizations.permissions import require

        require(by, "runs.start", scoped=False)  # runs are city-wide
    if year is not None and not (1900 <= year <= 2999):
        raise ValidationError({"year": ValidationError(_("年度应为四位数字。"), code="invalid_year")})
    if person_id is not None and not Person.objects.filter(pk=person_id).exists():
        raise ValidationError({"person": ValidationError(_("人员 %(pk)s 不存在。") % {"pk": person_id}, code="no_person")})
    previous = last_successful_run()
    since = None if previous is None else previous.started_at
    if since is None and person_id is None:
        full = True
    return RecalcRun.objects.create(
        full=full, year=year, person_id=person_id, dry_run=dry_run, trigger=trigger, triggered_by=by, since=since,
    )


def run_add_error(*, run_id: int, error: str) -> None:
    """Append an error message to the run (row lock: several workers may report at once)."""
    with transaction.atomic():
        run = RecalcRun.objects.select_for_update().get(pk=run_id)
        run.errors = [*run.errors, error[:2000]]
        run.save(update_fields=["errors"])
    logger.error("recalc run %s: %s", run_id, error)


def run_fail(*, run_id: int, error: str) -> None:
    run_add_error(run_id=run_id, error=error)
    RecalcRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED, finished_at=timezone.now(),
    )


def run_finish(*, run: RecalcRun) -> RecalcRun:
    """Close the run: failed if any chunk failed or an error was recorded, otherwise succeeded.

    Invariant violations do not fail the run (the figures were recomputed); they are reported on
    the record and in the log for a person to investigate.
    """
    run.refresh_from_db()
    failed_chunks = run.chunks.filter(status=RecalcChunk.Status.FAILED).count()
    ok = not run.errors and failed_chunks == 0 and run.chunks_done == run.chunks_total
    run.status = RunStatus.SUCCEEDED if ok else RunStatus.FAILED
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at"])
    logger.info(
        "recalc run %s %s: %s person-years, %s bills changed, %s adjustments, %s warnings, %s violations",
        run.pk, run.status, run.person_years_total, run.bills_changed, run.adjustments_created,
        run.warnings_created, len(run.invariant_violations),
    )
    return run


# --------------------------------------------------------------------------------------------
# Planning: expiry and what was touched since the last run
# --------------------------------------------------------------------------------------------


def _merge(work: dict[int, int], person_id: int, from_year: int) -> None:
    current = work.get(person_id)
    if current is None or from_year < current:
        work[person_id] = from_year


def expired_coverage(*, since: datetime | None, today: date) -> dict[int, int]:
    """Certifications whose coverage ended in ``[since, today)``: person id -> first affected year.

    The coverage end follows the policy of the person's insured region on ``valid_until``:
    ``same_day`` ends on ``valid_until``, ``end_of_month`` at the end of that month (次月起).
    Nothing is written for the certification itself: its bills are recomputed.
    """
    from policies.engine.engine import month_end

    start = (since.date() if since is not None else date(1900, 1, 1))
    rows = (
        Certification.objects.filter(valid_until__isnull=False, valid_until__gte=start - timedelta(days=31),
                                     valid_until__lt=today)
        .values_list("person_id", "person__insured_region_id", "valid_until")
    )
    picker = bulk.PolicyPicker.load()
    out: dict[int, int] = {}
    for person_id, region_id, until in rows:
        spec = picker.spec(region_id, until)
        end = month_end(until) if spec is not None and spec.end_of_month else until
        if start <= end < today:
            _merge(out, person_id, end.year)
    return out


def touched_since(*, since: datetime) -> dict[int, int]:
    """Person-years touched since ``since``: person id -> first year to recompute.

    - bills created since (the settlement year onward) or changed since (``Bill.updated_at``:
      status, amounts or dates; every year of the person, since a changed date may have moved the
      bill out of an earlier year);
    - certifications created, revoked or changed since (simple-history ``history_date``); a
      backdated certification touches every year from its earliest ``valid_from`` in history;
    - policy versions created or confirmed since: every person of the region, years from the
      version's ``effective_from``;
    - draws recorded on a ledger since (``LedgerDraw``: relief on application approved on a shared
      bucket): that person-year, whose pending claims' suggestions must now see less room;
    - region statistics recorded or corrected since (``RegionStatistic.updated_at``: per-capita
      income feeds deductibles and warning thresholds), or deleted or moved to another key since
      (``RegionStatisticDeletion``, written by ``organizations.signals``): every person insured in
      the region, years from the statistic's year (a deductible of year Y reads the statistic of
      Y − 1, a threshold may read Y's).
    """
    from claims.models import Bill, LedgerDraw
    from policies.models import Policy

    work: dict[int, int] = {}
    bill_rows = Bill.objects.filter(updated_at__gte=since).values_list("person_id", "discharge_date", "created_at")
    for person_id, day, created_at in bill_rows:  # small: a server-side cursor plans it badly
        _merge(work, person_id, day.year if created_at >= since else ALL_YEARS)

    for person_id, year in LedgerDraw.objects.filter(created_at__gte=since).values_list("ledger__person_id", "ledger__year"):
        _merge(work, person_id, year)

    history = Certification.history.model
    changed_ids = set(history.objects.filter(history_date__gte=since).values_list("id", flat=True))
    if changed_ids:
        rows = history.objects.filter(id__in=changed_ids).values_list("person_id", "valid_from")
        for person_id, valid_from in rows:
            _merge(work, person_id, valid_from.year)

    from organizations.models import RegionStatistic, RegionStatisticDeletion

    keys = set(RegionStatistic.objects.filter(updated_at__gte=since).values_list("region_id", "year"))
    # deleted, or moved to another region/year: nothing is left under the old key to find
    keys |= set(RegionStatisticDeletion.objects.filter(deleted_at__gte=since).values_list("region_id", "year"))
    for region_id, year in sorted(keys):
        people = Person.objects.filter(Q(insured_region_id=region_id) | Q(hukou_district__region_id=region_id))
        for person_id in people.values_list("id", flat=True):
            _merge(work, person_id, year)

    policies = Policy.objects.filter(Q(created_at__gte=since) | Q(confirmed_at__gte=since))
    for policy in policies:
        people = Person.objects.all()
        if policy.region_id is not None:
            people = people.filter(insured_region_id=policy.region_id)
        for person_id in people.values_list("id", flat=True):
            _merge(work, person_id, policy.effective_from.year)
    return work


def run_plan(*, run: RecalcRun, today: date | None = None) -> list[int]:
    """Decide the run's work, store it as :class:`RecalcChunk` rows and return their indexes.

    A chunk is a person-id range ``[lo, hi]`` and, for incremental runs, the list
    ``[[person id, first year], ...]`` it covers (``people`` None: everyone in the range, all years).
    Tasks receive the run id and the chunk index only (JSON, never ID numbers).
    """
    today = today or timezone.localdate()
    expired = expired_coverage(since=run.since, today=today)
    run.expired_certifications = len(expired)
    chunks: list[RecalcChunk] = []
    if run.person_id is not None:
        chunks.append(RecalcChunk(run=run, index=0, lo=run.person_id, hi=run.person_id, people=[[run.person_id, ALL_YEARS]]))
    elif run.full:
        ids = list(Person.objects.order_by("id").values_list("id", flat=True))
        for index, start in enumerate(range(0, len(ids), CHUNK_PEOPLE)):
            part = ids[start:start + CHUNK_PEOPLE]
            chunks.append(RecalcChunk(run=run, index=index, lo=part[0], hi=part[-1], people=None))
    else:
        work = touched_since(since=run.since)
        for person_id, from_year in expired.items():
            _merge(work, person_id, from_year)
        ordered = sorted(work.items())
        for index, start in enumerate(range(0, len(ordered), CHUNK_PEOPLE)):
            part = ordered[start:start + CHUNK_PEOPLE]
            chunks.append(RecalcChunk(run=run, index=index, lo=part[0][0], hi=part[-1][0],
                                      people=[[p, y] for p, y in part]))
    with transaction.atomic():
        RecalcChunk.objects.bulk_create(chunks, ignore_conflicts=True)
        run.chunks_total = len(chunks)
        run.save(update_fields=["expired_certifications", "chunks_total"])
    logger.info("recalc run %s planned: %s chunks (full=%s, since=%s, expired=%s)",
                run.pk, len(chunks), run.full, run.since, len(expired))
    return [c.index for c in chunks]


# --------------------------------------------------------------------------------------------
# Chunks
# --------------------------------------------------------------------------------------------


def chunk_execute(*, run_id: int, index: int) -> bulk.ChunkOutcome | None:
    """Recompute one chunk and record it done, atomically. A chunk already done is skipped.

    Safe to call any number of times: on an exception nothing of this chunk is written (one
    transaction), so a retry (or a redelivery after a worker died) starts from the same database.
    """
    run = RecalcRun.objects.get(pk=run_id)
    with bulk.gc_paused(), transaction.atomic():  # the collector off for the chunk (claims.recalc.gc_paused)
        record = RecalcChunk.objects.select_for_update().get(run_id=run_id, index=index)
        if record.status == RecalcChunk.Status.DONE:
            return None
        from_years = None if record.people is None else {int(p): int(y) for p, y in record.people}
        outcome = bulk.recompute_chunk(
            lo=record.lo, hi=record.hi, from_years=from_years, only_year=run.year, dry_run=run.dry_run,
        )
        # The fund pre-aggregate of the chunk's people, after its writes, in its transaction: the
        # chunks check it in parallel and the finalizer only gathers what they found (issue 12).
        outcome.violations += _fund_aggregate_violations(**_chunk_fund_scope(run, record))
        RecalcChunk.objects.filter(pk=record.pk).update(
            status=RecalcChunk.Status.DONE, finished_at=timezone.now(), attempts=F("attempts") + 1,
            person_years=outcome.person_years, bills_changed=outcome.bills_changed,
            adjustments_created=outcome.adjustments_created, violations=outcome.violations, error="",
        )
        RecalcRun.objects.filter(pk=run_id).update(
            chunks_done=F("chunks_done") + 1,
            person_years_total=F("person_years_total") + outcome.person_years,
            bills_changed=F("bills_changed") + outcome.bills_changed,
            adjustments_created=F("adjustments_created") + outcome.adjustments_created,
        )
    return outcome


def _chunk_fund_scope(run: RecalcRun, record: RecalcChunk) -> dict:
    """Whose fund pre-aggregate rows a chunk checks. An incremental (or one-person) chunk: its
    people. A full run's chunks tile every person id between them: chunk ``i`` checks the ids
    after chunk ``i - 1``'s last one up to its own last one, the first from the lowest id and the
    last to the highest, so a row of an id no chunk recomputed (a person deleted, or one that
    never existed) is still checked by exactly one chunk."""
    if record.people is not None:
        return {"person_ids": {int(p) for p, _y in record.people}}
    lo = None
    if record.index > 0:
        previous = RecalcChunk.objects.filter(run_id=run.pk, index=record.index - 1).values_list("hi", flat=True).first()
        lo = record.lo if previous is None else previous + 1
    hi = None if record.index == run.chunks_total - 1 else record.hi
    return {"person_range": (lo, hi)}


def chunk_fail(*, run_id: int, index: int, error: str) -> None:
    """A chunk gave up (retries exhausted or a non-transient error): recorded, the run will fail."""
    RecalcChunk.objects.filter(run_id=run_id, index=index).exclude(status=RecalcChunk.Status.DONE).update(
        status=RecalcChunk.Status.FAILED, error=error[:2000], attempts=F("attempts") + 1,
    )
    run_add_error(run_id=run_id, error=_("分片 %(index)s 失败：%(error)s") % {"index": index, "error": error})


# --------------------------------------------------------------------------------------------
# The synchronous path (manage.py recalculate) uses exactly the steps the Celery tasks use
# --------------------------------------------------------------------------------------------


def run_synchronously(*, full: bool = False, year: int | None = None, person_id: int | None = None,
                      dry_run: bool = False, trigger: str = RunTrigger.COMMAND, by=None,
                      today: date | None = None) -> RecalcRun:
    run = run_create(full=full, year=year, person_id=person_id, dry_run=dry_run, trigger=trigger, by=by)
    try:
        for index in run_plan(run=run, today=today):
            try:
                chunk_execute(run_id=run.pk, index=index)
            except Exception as exc:  # noqa: BLE001 - recorded on the run, the next chunk still runs
                logger.exception("recalc run %s chunk %s failed", run.pk, index)
                chunk_fail(run_id=run.pk, index=index, error=f"{type(exc).__name__}: {exc}")
        run_complete(run_id=run.pk)
    except Exception as exc:
        logger.exception("recalc run %s failed", run.pk)
        run_fail(run_id=run.pk, error=f"{type(exc).__name__}: {exc}")
    run.refresh_from_db()
    return run


def run_complete(*, run_id: int) -> RecalcRun:
    """The finalizer: warnings, then invariants, then close the run.

    Invariants: a full run's chunks checked their ranges right after writing (reported on each
    chunk); other runs check the person-years they touched here.
    """
    run = RecalcRun.objects.get(pk=run_id)
    person_ids = run_person_ids(run=run)
    if not run.dry_run:
        households = None
        if person_ids is not None:
            households = set(Person.objects.filter(pk__in=person_ids, household__isnull=False)
                             .values_list("household_id", flat=True))
        created, closed = warnings_refresh(run=run, household_ids=households, only_year=run.year)
        RecalcRun.objects.filter(pk=run_id).update(warnings_created=created, warnings_closed=closed)
    # the chunks' findings: ledgers, caps, and the fund pre-aggregate of their people (each chunk
    # checked its own after writing it, see chunk_execute)
    violations = [v for c in run.chunks.exclude(violations=[]).order_by("index") for v in c.violations]
    if person_ids is not None:
        seen = {_violation_key(v) for v in violations}
        violations += [v for v in invariants_check(person_ids=person_ids, only_year=run.year)
                       if _violation_key(v) not in seen]
    for v in violations:
        logger.error("recalc run %s invariant violation: %s", run_id, v)
    RecalcRun.objects.filter(pk=run_id).update(invariant_violations=violations)
    if not run.dry_run:
        _refresh_statistics(run_id)
    return run_finish(run=run)


def _fund_aggregate_violations(*, person_ids: set[int] | None = None,
                               person_range: tuple[int | None, int | None] | None = None) -> list[dict]:
    """``manage.py reports_aggregate_check`` for a chunk's people (``person_ids``, or the id range
    ``person_range``): the fund pre-aggregate against the bills, to the fen, person by person.
    Reported (and logged), never repaired here: the repair is the explicit
    ``reports_aggregate_check --repair``."""
    from reports import aggregate

    try:
        with transaction.atomic():  # a savepoint: a failed check leaves the chunk's writes alone
            differences = aggregate.check(person_ids=person_ids, person_range=person_range)
    except Exception:  # the check must never fail the run it reports on
        logger.exception("fund pre-aggregate check failed")
        return []
    return [{"code": "fund_aggregate_mismatch", "person_id": d.key[6], "year": d.key[1], "bucket": None,
             "ledger_used": str(Decimal(d.stored[0]) / 100), "bills_drawn": str(Decimal(d.expected[0]) / 100),
             "detail": str(d)} for d in differences]


def _refresh_statistics(run_id: int) -> None:
    """ANALYZE the tables the run rewrote a large share of (organizations.dbstats; issue 20)."""
    from claims.models import Bill, LedgerBucket, PersonYearLedger
    from organizations.dbstats import refresh_statistics

    # A ledger (and its buckets) is rewritten only where a figure of its bills changed, so the bills
    # changed bound the ledger rows written: a steady full run that changes nothing analyses
    # nothing (counting every person-year it read analysed both ledger tables every night).
    changed = RecalcRun.objects.filter(pk=run_id).values_list("bills_changed", flat=True).get()
    refresh_statistics({Bill: changed, PersonYearLedger: changed, LedgerBucket: changed})


def _violation_key(v: dict) -> tuple:
    return (v["person_id"], v["year"], v.get("bucket"), v["code"])


def run_person_ids(*, run: RecalcRun) -> set[int] | None:
    """The people a run covered; None for a full run (everyone)."""
    if run.person_id is not None:
        return {run.person_id}
    if run.full:
        return None
    people: set[int] = set()
    for chunk_people in run.chunks.values_list("people", flat=True):
        people.update(int(p) for p, _y in chunk_people or ())
    return people


# --------------------------------------------------------------------------------------------
# Early warnings (预警监测, POLICY.md §6)
# --------------------------------------------------------------------------------------------

def watched_categories(spec) -> frozenset[str]:
    """The categories the policy watches for 因病返贫 (its warning rules with categories), not a
    hard-coded list (POLICY.md §9): e.g. Wuxi 五(九) watches 低保边缘 and 支出型困难家庭 members."""
    out: set[str] = set()
    for rule in spec.warnings:
        out.update(rule.categories or ())
    return frozenset(out)


def person_burdens(*, household_ids: Iterable[int] | None, only_year: int | None = None
                   ) -> dict[tuple[int, int], list[tuple[int, Decimal]]]:
    """(household, year) -> [(person, that member's annual burden after insurance and granted
    assistance)], heaviest first (the threshold applies to the individual, 国办 五(七))."""
    from django.db.models import Sum
    from django.db.models.functions import ExtractYear

    from claims import money
    from claims.models import Bill

    qs = Bill.objects.filter(person__household__isnull=False)
    if household_ids is not None:
        qs = qs.filter(person__household_id__in=list(household_ids))
    if only_year is not None:
        qs = qs.filter(discharge_date__gte=date(only_year, 1, 1), discharge_date__lte=date(only_year, 12, 31))
    rows = (
        qs.annotate(y=ExtractYear("discharge_date"))
        .values("person__household_id", "person_id", "y")
        .annotate(burden=Sum(money.left_after_granted_expr(), output_field=money.MONEY_FIELD))
        .values_list("person__household_id", "y", "person_id", "burden")
    )
    out: dict[tuple[int, int], list[tuple[int, Decimal]]] = defaultdict(list)
    for h, y, person_id, b in rows:
        out[(h, y)].append((person_id, Decimal(b).quantize(Decimal("0.01"))))
    for members in out.values():
        members.sort(key=lambda m: (-m[1], m[0]))
    return out


def household_burdens(*, household_ids: Iterable[int] | None, only_year: int | None = None,
                      ) -> dict[tuple[int, int], Decimal]:
    """(household, year) -> burden after insurance AND granted assistance of all members' bills:
    :func:`household_totals` of :func:`person_burdens`. Rejected, returned and pending claims'
    bills count with their whole burden: nothing was granted on them (POLICY.md §9)."""
    return household_totals(person_burdens(household_ids=household_ids, only_year=only_year))


def household_totals(members: dict[tuple[int, int], list[tuple[int, Decimal]]]) -> dict[tuple[int, int], Decimal]:
    """The household figure of :func:`person_burdens`' answer: the sum of its members' (each a sum
    of the same per-bill ``claims.money.left_after_granted_expr``), so the household total and
    the heaviest member's figure come from one read of the bills and always agree."""
    return {key: sum((burden for _person, burden in rows), Decimal("0.00")) for key, rows in members.items()}


def _categories_by_household_year(household_ids: Sequence[int] | None, years: set[int]) -> dict[tuple[int, int], set[str]]:
    """Categories any member held at some point of each year (certification overlapping the year).
    ``household_ids`` None: every household (no id list in the query)."""
    out: dict[tuple[int, int], set[str]] = defaultdict(set)
    rows = Certification.objects.filter(person__household__isnull=False)
    if household_ids is not None:
        rows = rows.filter(person__household_id__in=household_ids)
    rows = rows.order_by().values_list("person__household_id", "category__code", "valid_from", "valid_until")
    for household_id, code, valid_from, valid_until in rows:
        for year in years:
            if valid_from <= date(year, 12, 31) and (valid_until is None or valid_until >= date(year, 1, 1)):
                out[(household_id, year)].add(code)
    return out


def warnings_refresh(*, run: RecalcRun | None = None, household_ids: Iterable[int] | None = None,
                     only_year: int | None = None) -> tuple[int, int]:
    """Create warnings for households above a threshold; close certified ones. Returns (created, closed).

    - 因病致贫 (illness_poverty): households where no member holds any category;
      因病返贫 (return_to_poverty): households holding a category the policy watches (its warning
      rules, e.g. 低保边缘 / 防止返贫监测 / 返贫致贫; Wuxi also 支出型困难家庭); the engine's
      ``warning_kind`` decides with the policy's thresholds, on the heaviest MEMBER's burden
      (国办 五(七) 个人年度医疗费用负担), the household total stored beside it;
    - created once: unique (household, year, kind); a dismissed warning is never recreated;
    - a household that became certified (a member now holds a beneficiary category beyond the
      ones the policy watches) closes its open/referred warnings of that year as ``certified``.
    """
    from beneficiaries.models import Household
    from policies.engine.engine import warning_kind
    from policies.engine.types import MissingStatisticError

    # one read of the bills: the members' burdens, and the household's as their sum
    individual = person_burdens(household_ids=household_ids, only_year=only_year)
    burdens = household_totals(individual)
    if household_ids is not None:
        household_ids = list(household_ids)
    existing_q = EarlyWarning.objects.all()
    if household_ids is not None:
        existing_q = existing_q.filter(household_id__in=household_ids)
    if only_year is not None:
        existing_q = existing_q.filter(year=only_year)
    existing = {(w.household_id, w.year, w.kind): w
                for w in existing_q.order_by().only("id", "household_id", "year", "kind", "status")}
    keys = set(burdens) | {(h, y) for h, y, _k in existing}
    if not keys:
        return 0, 0
    households = sorted({h for h, _y in keys})
    years = {y for _h, y in keys}
    # a full run covers every household: read them all rather than send ~100,000 ids in a query
    scope_ids = households if household_ids is not None else None
    household_q = Household.objects.all() if scope_ids is None else Household.objects.filter(pk__in=scope_ids)
    region_of = dict(household_q.order_by().values_list("pk", "district__region_id"))
    held = _categories_by_household_year(scope_ids, years)
    picker = bulk.PolicyPicker.load()
    stats_cache: dict[int, dict] = {}
    to_create: list[EarlyWarning] = []
    to_close: list[int] = []
    skipped: dict[tuple, list[int]] = {}  # (region, year, missing statistic) -> households
    today = timezone.localdate()
    for household_id, year in sorted(keys):
        categories = held.get((household_id, year), set())
        region_id = region_of.get(household_id)
        on = min(date(year, 12, 31), today)
        spec = picker.spec(region_id, on)
        watched = watched_categories(spec) if spec is not None else frozenset()
        for kind in ("illness_poverty", "return_to_poverty"):
            warning = existing.get((household_id, year, kind))
            if warning is not None and warning.status in (WarningStatus.OPEN, WarningStatus.REFERRED):
                # certified: holds a category beyond those the policy watches (POLICY.md §9)
                certified = bool(categories) if kind == "illness_poverty" else bool(categories - watched)
                if certified:
                    to_close.append(warning.pk)
        household_total = burdens.get((household_id, year))
        members = individual.get((household_id, year))
        if household_total is None or not members or spec is None:
            continue
        # 国办 五(七) "个人年度医疗费用负担": the heaviest member's burden against the threshold,
        # the household's total kept beside it (POLICY.md §9)
        person_id, burden = members[0]
        if region_id not in stats_cache:
            stats_cache[region_id] = picker.stats(region_id)
        try:
            result = warning_kind(spec, frozenset(categories), burden, stats_cache[region_id], year)
        except MissingStatisticError as exc:
            skipped.setdefault((region_id, year, str(exc)), []).append(household_id)
            continue
        if result.kind is None or (household_id, year, result.kind) in existing:
            continue
        to_create.append(EarlyWarning(
            household_id=household_id, year=year, kind=result.kind, burden=burden, threshold=result.threshold,
            clause=result.clause or "", run=run, person_id=person_id, household_burden=household_total,
        ))
    # One line per region, year and missing statistic, not one per household: a region without
    # its statistic skipped 74,566 households a night at 1,000,000 bills, and logging each was a
    # third of the finalizer (docs/benchmarks/monitoring.md).
    for (region_id, year, reason), households in sorted(skipped.items(), key=lambda item: str(item[0])):
        logger.warning("no warning for %s households of region %s in %s (first: %s): %s", len(households),
                       region_id, year, ", ".join(map(str, households[:5])), reason)
    with transaction.atomic():
        # ignore_conflicts: a concurrent run that created the same warning wins; the unique
        # constraint is what guarantees "created once".
        EarlyWarning.objects.bulk_create(to_create, ignore_conflicts=True, batch_size=1000)
        closed = EarlyWarning.objects.filter(
            pk__in=to_close, status__in=[WarningStatus.OPEN, WarningStatus.REFERRED],
        ).update(status=WarningStatus.CERTIFIED, handled_at=timezone.now(),
                 note=_("家庭成员已获认定，预警自动关闭。"))
    return len(to_create), closed


def warning_refer(*, warning: EarlyWarning, application, by) -> EarlyWarning:
    """The applications engineer calls this when an application is created from a warning."""
    with transaction.atomic():
        warning = EarlyWarning.objects.select_for_update().select_related("household__district").get(pk=warning.pk)
        require(by, "warnings.refer", district_id=warning.household.district_id,
                region_id=warning.household.district.region_id)
        if warning.status != WarningStatus.OPEN:
            raise ValidationError(_("只有待处理的预警可以转为申请（当前：%(status)s）。")
                                  % {"status": warning.get_status_display()}, code="not_open")
        warning.status = WarningStatus.REFERRED
        warning.application_id = application.pk
        warning.handled_by = by
        warning.handled_at = timezone.now()
        warning.save(update_fields=["status", "application_id", "handled_by", "handled_at"])
    return warning


def warning_dismiss(*, warning: EarlyWarning, by, note: str) -> EarlyWarning:
    """Dismiss (排除) an open warning with a reason; it is never recreated for the same year."""
    household = Household.objects.select_related("district").get(pk=warning.household_id)
    require(by, "warnings.dismiss", district_id=household.district_id, region_id=household.district.region_id)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": ValidationError(_("请填写排除原因。"), code="note_required")})
    with transaction.atomic():
        warning = EarlyWarning.objects.select_for_update().get(pk=warning.pk)
        if warning.status != WarningStatus.OPEN:
            raise ValidationError(_("只有待处理的预警可以排除（当前：%(status)s）。")
                                  % {"status": warning.get_status_display()}, code="not_open")
        warning.status = WarningStatus.DISMISSED
        warning.note = note
        warning.handled_by = by
        warning.handled_at = timezone.now()
        warning.save(update_fields=["status", "note", "handled_by", "handled_at"])
    return warning


# --------------------------------------------------------------------------------------------
# Invariants (checked at the end of every run; reported, never fixed)
# --------------------------------------------------------------------------------------------


def invariants_check(*, person_ids: Iterable[int], only_year: int | None = None) -> list[dict]:
    """Violations of: capped bucket use ≤ cap; ledger bucket used = Σ drawn of its counted bills.

    Checked in slices of :data:`CHUNK_PEOPLE` people so memory stays bounded.
    """
    ids = sorted(person_ids)
    violations: list[dict] = []
    for start in range(0, len(ids), CHUNK_PEOPLE):
        violations += bulk.check_invariants(person_ids=ids[start:start + CHUNK_PEOPLE], only_year=only_year)
    return violations
