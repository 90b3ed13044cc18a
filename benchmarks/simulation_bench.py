"""Benchmark of the what-if simulation beside the nightly full run, on the same data in one run
(docs/benchmarks/simulation.md).

Data: ``manage.py generate_synthetic --people N --claims M`` (2023–2024) into your own database.
``simulate`` replays the region's 2024; ``simulate-all`` replays 2023–2024, exactly the bills the
nightly full run reads (the like-for-like comparison).
Steps (in the order given), on ONE Celery worker process with ``--workers`` prefork children
consuming both the default queue and ``simulation``:

- ``floor``: a plain SQL aggregate over the bills table (what reading every bill once costs);
- ``full``: ``monitoring`` full recalculation (plan → chord(chunks) → finalizer); run it twice,
  the first run computes everything (cold), the second is the nightly steady state;
- ``paired``: per person range already computed, the nightly chunk and the simulation chunk of the
  same people, interleaved in one process (see :func:`paired`);
- ``simulate`` / ``simulate-all``: a draft of Beijing's policy (BJ-3 inpatient cap 200,000) replayed
  for the whole region (plan → chord(chunks) → finalizer), both sides through the engine.

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h19_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python benchmarks/simulation_bench.py full full simulate floor
"""
from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402


def load() -> str:
    return "load average " + os.popen("uptime").read().strip().split("load average:")[-1].strip()  # noqa: S605,S607


def start_worker(workers: int) -> subprocess.Popen:
    cmd = [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "-c", str(workers), "--pool", "prefork",
           "-Q", "celery,simulation", "-l", "warning", "--without-gossip", "--without-mingle", "-n", f"simbench-{os.getpid()}@%h"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ))  # noqa: S603 - fixed command
    time.sleep(8)
    return proc


def floor() -> float:
    from django.db import connection

    sql = """SELECT person_id, EXTRACT(YEAR FROM discharge_date), SUM(GREATEST(policy_scope_cost - basic_paid - critical_paid - other_paid, 0))
             FROM claims_bill GROUP BY 1, 2"""
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(sql)
        rows = cursor.fetchall()
        elapsed = time.perf_counter() - started
    print(f"floor: SQL aggregate over claims_bill: {elapsed:.2f}s ({len(rows)} person-years); {load()}", flush=True)
    return elapsed


def full() -> float:
    from monitoring import services, tasks
    from monitoring.models import RecalcRun

    with transaction.atomic():
        run = services.run_create(full=True)
        tasks.start_run(run)
    while (run := RecalcRun.objects.get(pk=run.pk)).status == "running":
        time.sleep(0.5)
    elapsed = (run.finished_at - run.started_at).total_seconds()
    print(f"nightly full run #{run.pk} {run.status}: {elapsed:.1f}s; {run.chunks_total} chunks, "
          f"{run.person_years_total} person-years, {run.bills_changed} bills changed; {load()}", flush=True)
    return elapsed


def simulate(start: date = date(2024, 1, 1), end: date = date(2024, 12, 31)) -> float:
    from django.contrib.auth import get_user_model

    from policies.models import Policy
    from simulation import services
    from simulation.models import SimulationRun

    user, _ = get_user_model().objects.get_or_create(username="simbench", defaults={"is_superuser": True, "is_staff": True})
    base = Policy.objects.get(code="beijing-2023", is_current=True)
    draft = services.draft_create(base=base, scenario="benchmark: BJ-3 inpatient 200,000", by=user)
    rules = copy.deepcopy(draft.rules)
    for tier in rules["tiers"]:
        if tier["code"] == "BJ-3":
            tier["buckets"]["inpatient"]["cap"] = "200000.00"
    services.draft_update(draft=draft, rules=rules, scenario=draft.scenario, note="", by=user)
    started = time.perf_counter()
    run = services.run_create(draft=draft, period_start=start, period_end=end, by=user)
    while (run := SimulationRun.objects.get(pk=run.pk)).status in ("queued", "running"):
        time.sleep(0.5)
    wall = time.perf_counter() - started
    t = run.summary.get("totals", {})
    print(f"simulation {start}..{end} run #{run.pk} {run.status}: {run.seconds or 0:.1f}s (plan→finalizer; {wall:.1f}s from the click); "
          f"{run.chunks_total} chunks, {run.person_years} person-years, {run.bills} bills, now {t.get('base')} vs draft "
          f"{t.get('draft')}, {t.get('gainers')} gain, {t.get('losers')} lose; {load()} {run.error[:200]}", flush=True)
    return run.seconds or 0.0


def paired(chunks: int) -> None:
    """The nightly chunk and the simulation chunk on the SAME people, interleaved in one process.

    For each person-id range a full run already computed (its chunks are ``done``: steady state),
    ``monitoring.bulk.recompute_chunk`` (the nightly chunk: locks, reads, engine, compare, writes
    nothing when nothing changed) and the simulation chunk (read, engine twice, aggregates, the
    person-year rows written) over 2023–2024, i.e. the same bills; the simulation's writes are
    rolled back so every repetition sees the same database.
    """
    from monitoring import bulk
    from monitoring.models import RecalcChunk
    from policies.models import Policy
    from simulation import replay
    from simulation.models import SimulationPersonYear

    base = Policy.objects.get(code="beijing-2023", is_current=True)
    rules = copy.deepcopy(base.rules)
    for tier in rules["tiers"]:
        if tier["code"] == "BJ-3":
            tier["buckets"]["inpatient"]["cap"] = "200000.00"
    spec = replay.draft_spec_for_period(rules, start=date(2023, 1, 1))
    ranges = list(RecalcChunk.objects.filter(status="done").order_by("run_id", "index").values_list("lo", "hi").distinct()[:chunks])
    nightly_total = sim_total = 0.0
    bills = person_years = 0
    for lo, hi in ranges:
        started = time.perf_counter()
        with transaction.atomic():
            outcome = bulk.recompute_chunk(lo=lo, hi=hi)
        nightly = time.perf_counter() - started
        started = time.perf_counter()
        with transaction.atomic():
            replays = replay.replay_people(region_id=base.region_id, district_id=None, start=date(2023, 1, 1),
                                           end=date(2024, 12, 31), draft_spec=spec, lo=lo, hi=hi)
            replay.aggregate(replays)
            SimulationPersonYear.objects.bulk_create([
                SimulationPersonYear(run_id=0, person_id=py.person_id, district_id=py.district_id, year=py.year,
                                     bills=len(py.rows), base_total=py.base_total, draft_total=py.draft_total,
                                     difference=py.draft_total - py.base_total) for py in replays], batch_size=2000)
            transaction.set_rollback(True)
        sim = time.perf_counter() - started
        nightly_total += nightly
        sim_total += sim
        bills += sum(len(py.rows) for py in replays)
        person_years += len(replays)
        print(f"people {lo}-{hi}: nightly chunk {nightly:.2f}s ({outcome.bills_seen} bills, {outcome.bills_changed} changed) | "
              f"simulation chunk {sim:.2f}s ({sum(len(py.rows) for py in replays)} bills, {len(replays)} person-years)", flush=True)
    print(f"paired over {len(ranges)} chunks: nightly {nightly_total:.1f}s, simulation {sim_total:.1f}s "
          f"(ratio {sim_total / nightly_total:.2f}); {bills} bills, {person_years} person-years; {load()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("steps", nargs="+", choices=["floor", "full", "simulate", "simulate-all", "paired"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=12, help="paired: how many computed person ranges")
    args = parser.parse_args()
    worker = start_worker(args.workers) if any(s not in ("floor", "paired") for s in args.steps) else None
    try:
        for step in args.steps:
            {"floor": floor, "full": full, "simulate": simulate,
             "simulate-all": lambda: simulate(date(2023, 1, 1), date(2024, 12, 31)),
             "paired": lambda: paired(args.chunks)}[step]()
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)


if __name__ == "__main__":
    main()
