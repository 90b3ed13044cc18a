"""Writes of the simulation app: drafts, runs, chunks. Nothing here writes a ``claims`` row."""
from __future__ import annotations

import copy
import logging
from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from organizations import roles
from organizations.access import ensure_in_scope, scope_for

from . import replay
from .models import PolicyDraft, SimulationChunk, SimulationPersonYear, SimulationRun

logger = logging.getLogger(__name__)

__all__ = ["chunk_execute", "draft_create", "draft_update", "run_complete", "run_create", "run_fail", "run_plan", "run_synchronously"]

CHUNK_PEOPLE = 4000
HISTOGRAM_EDGES = [Decimal(x) for x in ("-50000", "-20000", "-10000", "-5000", "-1000", "-100", "0", "100", "1000",
                                        "5000", "10000", "20000", "50000")]


def _require_admin(user) -> None:
    if not roles.has_role(user, roles.ADMINISTRATOR):
        raise PermissionDenied(_("只有系统管理员可以草拟政策和发起测算。"))


def _ensure_region(user, region_id: int | None) -> None:
    """City-level scope of ``region_id`` (a draft is region-wide); a national template: superusers."""
    scope = scope_for(user)
    if scope.everything:
        return
    if scope.nothing or region_id is None or scope.region_id != region_id or scope.district_id is not None:
        raise Http404


def validate_draft_rules(rules) -> None:
    from policies.services import validate_rules

    if not isinstance(rules, dict):
        raise ValidationError(_("规则必须是 JSON 对象。"), code="invalid_rules")
    validate_rules(rules)


@transaction.atomic
def draft_create(*, base, scenario: str, by, note: str = "") -> PolicyDraft:
    """Copy the rules of ``base`` (a policy version) into a new draft named ``scenario``."""
    _require_admin(by)
    _ensure_region(by, base.region_id)
    draft = PolicyDraft(base=base, region_id=base.region_id, scenario=scenario.strip(), rules=copy.deepcopy(base.rules),
                        note=note, created_by=by)
    draft.full_clean()
    draft.save()
    return draft


@transaction.atomic
def draft_update(*, draft: PolicyDraft, rules: dict, scenario: str, note: str, by) -> PolicyDraft:
    """Save edited rules (validated by the engine, the error names the field); the code stays the base's."""
    _require_admin(by)
    _ensure_region(by, draft.region_id)
    rules = copy.deepcopy(rules)
    rules["code"] = draft.base.code
    validate_draft_rules(rules)
    draft.rules = rules
    draft.scenario = scenario.strip()
    draft.note = note
    draft.full_clean()
    draft.save(update_fields=["rules", "scenario", "note", "updated_at"])
    return draft


def run_create(*, draft: PolicyDraft, period_start: date, period_end: date, district=None, by) -> SimulationRun:
    """A run of ``draft`` over the period (region-wide, or one district); queued on commit."""
    _require_admin(by)
    if draft.region_id is None:
        raise ValidationError(_("全国政策框架不能直接测算：请先复制到统筹地区。"), code="no_region")
    if district is not None:
        if district.region_id != draft.region_id:
            raise ValidationError({"district": ValidationError(_("区县不属于该统筹地区。"), code="district_region")})
        ensure_in_scope(by, district_id=district.pk, region_id=district.region_id)
    else:
        _ensure_region(by, draft.region_id)
    if period_start > period_end:
        raise ValidationError({"period_end": ValidationError(_("测算期间止不能早于起。"), code="period_order")})
    replay.draft_spec_for_period(draft.rules, start=period_start)  # refuse rules the engine does not accept
    run = SimulationRun(draft=draft, region_id=draft.region_id, district=district, period_start=period_start,
                        period_end=period_end, created_by=by)
    run.full_clean()
    with transaction.atomic():
        run.save()
        from .tasks import start_run

        start_run(run)
    return run


def run_plan(*, run: SimulationRun) -> list[int]:
    """Person-id ranges of the people with counted bills in the period; stored as chunks."""
    ids = sorted(set(replay.bills_query(region_id=run.region_id, district_id=run.district_id, start=run.period_start,
                                        end=run.period_end).values_list("person_id", flat=True).distinct()))
    chunks = []
    for index, start in enumerate(range(0, len(ids), CHUNK_PEOPLE)):
        part = ids[start:start + CHUNK_PEOPLE]
        chunks.append(SimulationChunk(run=run, index=index, lo=part[0], hi=part[-1]))
    with transaction.atomic():
        SimulationChunk.objects.bulk_create(chunks, ignore_conflicts=True)
        SimulationRun.objects.filter(pk=run.pk).update(chunks_total=len(chunks), status=SimulationRun.Status.RUNNING,
                                                       started_at=timezone.now())
    return [c.index for c in chunks]


def chunk_execute(*, run_id: int, index: int) -> int:
    """Replay one chunk and store its person-years and aggregates, atomically; idempotent."""
    from claims.recalc import PolicyPicker

    run = SimulationRun.objects.select_related("draft").get(pk=run_id)
    with transaction.atomic():
        chunk = SimulationChunk.objects.select_for_update().get(run_id=run_id, index=index)
        if chunk.done:
            return 0
        spec = replay.draft_spec_for_period(run.draft.rules, start=run.period_start)
        replays = replay.replay_people(region_id=run.region_id, district_id=run.district_id, start=run.period_start,
                                       end=run.period_end, draft_spec=spec, lo=chunk.lo, hi=chunk.hi,
                                       picker=PolicyPicker.load())
        SimulationPersonYear.objects.bulk_create([
            SimulationPersonYear(run_id=run_id, person_id=py.person_id, district_id=py.district_id, year=py.year,
                                 bills=len(py.rows), base_total=py.base_total, draft_total=py.draft_total,
                                 difference=py.draft_total - py.base_total, base_capped=py.base_capped,
                                 draft_capped=py.draft_capped)
            for py in replays], batch_size=2000)
        chunk.aggregates = replay.aggregate(replays)
        chunk.done = True
        chunk.save(update_fields=["aggregates", "done"])
        SimulationRun.objects.filter(pk=run_id).update(chunks_done=F("chunks_done") + 1)
    return len(replays)


def _histogram(run: SimulationRun) -> list[dict]:
    """People by change (draft − now), in fixed bands; unchanged people in their own band."""
    counts = defaultdict(int)
    edges = HISTOGRAM_EDGES
    for diff in SimulationPersonYear.objects.filter(run=run).exclude(difference=0).values_list("difference", flat=True).iterator(chunk_size=10000):
        band = 0
        while band < len(edges) and diff >= edges[band]:
            band += 1
        counts[band] += 1
    unchanged = SimulationPersonYear.objects.filter(run=run, difference=0).count()
    out = []
    for band in range(len(edges) + 1):
        lo = edges[band - 1] if band > 0 else None
        hi = edges[band] if band < len(edges) else None
        out.append({"lo": None if lo is None else str(lo), "hi": None if hi is None else str(hi), "people": counts.get(band, 0)})
        if hi == 0:
            out.append({"lo": "0", "hi": "0", "people": unchanged, "unchanged": True})
    return out


def _applications(run: SimulationRun) -> dict:
    """Relief on application (依申请救助) of the period, recomputed under both with the same
    gathered bills (``applications.services._assess``, the one engine call of that app)."""
    from applications.models import Application, Status
    from applications.services import _assess
    from policies.models import Policy
    from policies.selectors import policy_in_force

    apps = Application.objects.filter(district__region_id=run.region_id, received_on__gte=run.period_start,
                                      received_on__lte=run.period_end,
                                      status__in=[Status.REVIEWING, Status.APPROVED]).select_related("household", "applicant", "district")
    if run.district_id is not None:
        apps = apps.filter(district_id=run.district_id)
    rules = copy.deepcopy(run.draft.rules)
    rules["effective_from"] = run.period_start.isoformat()
    rules["effective_to"] = None
    rules.pop("needs_confirmation", None)
    draft_policy = Policy(code=run.draft.base.code, version=0, region_id=run.region_id, rules=rules,
                          effective_from=run.period_start)
    out = {"count": 0, "base": Decimal("0.00"), "draft": Decimal("0.00"), "errors": 0, "gainers": 0, "losers": 0}
    for application in apps:
        rows = list(application.counted_bills.select_related("bill", "person"))
        policy = policy_in_force(region=run.region_id, on=application.received_on)
        if policy is None or not rows:
            continue
        try:
            base = _assess(application=application, policy=policy, rows=rows).relief
            draft = _assess(application=application, policy=draft_policy, rows=rows).relief
        except Exception:  # noqa: BLE001 - one unreadable application must not fail the run; counted
            logger.exception("simulation %s: application %s not computable", run.pk, application.pk)
            out["errors"] += 1
            continue
        out["count"] += 1
        out["base"] += base
        out["draft"] += draft
        out["gainers"] += draft > base
        out["losers"] += draft < base
    return {k: str(v) if isinstance(v, Decimal) else int(v) for k, v in out.items()}


def run_complete(*, run_id: int) -> SimulationRun:
    run = SimulationRun.objects.select_related("draft__base").get(pk=run_id)
    chunks = SimulationChunk.objects.filter(run=run)
    if chunks.filter(done=False).exists():
        return run_fail(run_id=run_id, error="chunks not done: " + ",".join(
            str(i) for i in chunks.filter(done=False).values_list("index", flat=True)[:20]))
    summary = replay.merge(chunks.values_list("aggregates", flat=True))
    summary["histogram"] = _histogram(run)
    summary["applications"] = _applications(run)
    totals = summary.get("totals", {})
    run.summary = summary
    run.person_years = int(totals.get("person_years", 0))
    run.bills = int(totals.get("bills", 0))
    run.status = SimulationRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.save(update_fields=["summary", "person_years", "bills", "status", "finished_at"])
    return run


def run_synchronously(*, run: SimulationRun) -> SimulationRun:
    """Plan, every chunk and the finalizer in this process (demo data, management shells)."""
    for index in run_plan(run=run):
        chunk_execute(run_id=run.pk, index=index)
    return run_complete(run_id=run.pk)


def run_fail(*, run_id: int, error: str) -> SimulationRun:
    SimulationRun.objects.filter(pk=run_id).update(status=SimulationRun.Status.FAILED, error=error[:4000],
                                                   finished_at=timezone.now())
    return SimulationRun.objects.get(pk=run_id)
