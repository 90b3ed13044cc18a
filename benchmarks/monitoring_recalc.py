"""Benchmark of the nightly recalculation on PostgreSQL (docs/benchmarks/monitoring.md).

Data: ``manage.py generate_synthetic --people 200000 --claims 1000000`` into your own database.
Runs:

- ``floor``: a plain SQL aggregate over the bills table (sum of burdens per person-year): the
  least any recalculation must cost, since it reads every bill once;
- ``full``: ``recalculate --full`` through Celery: plan → chord(chunks) → finalizer, on
  ``--workers`` prefork worker processes (started here against ``REDIS_URL``);
- ``incremental``: after changing ``--share`` (1 %) of the certifications (backdated revocations
  and new backdated certifications, saved through the ORM so simple-history records them).

Usage (DEBUG off, so Django does not keep every query in memory)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_monitoring REDIS_URL=redis://127.0.0.1:6379/7 \\
    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python benchmarks/monitoring_recalc.py floor full full incremental
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"  # test settings default to eager: use the real workers

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402


def floor() -> float:
    sql = """
        SELECT person_id, EXTRACT(YEAR FROM discharge_date) AS y,
               SUM(GREATEST(policy_scope_cost - basic_paid - critical_paid - other_paid, 0))
        FROM claims_bill GROUP BY 1, 2
    """
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(sql)
        rows = cursor.fetchall()
        elapsed = time.perf_counter() - started
    print(f"floor: SQL aggregate over claims_bill: {elapsed:.2f}s ({len(rows)} person-years)")
    return elapsed


def start_workers(workers: int) -> subprocess.Popen:
    env = dict(os.environ)
    cmd = [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "-c", str(workers), "--pool", "prefork",
           "-l", "warning", "--without-gossip", "--without-mingle", "-n", f"bench-{os.getpid()}@%h"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)  # noqa: S603 - fixed command
    time.sleep(6)
    return proc


def celery_run(*, full: bool) -> float:
    from monitoring import services, tasks
    from monitoring.models import RecalcRun

    with transaction.atomic():
        run = services.run_create(full=full)
        tasks.start_run(run)
    while True:
        run = RecalcRun.objects.get(pk=run.pk)
        if run.status != "running":
            break
        time.sleep(0.5)
    elapsed = (run.finished_at - run.started_at).total_seconds()
    print(f"{'full' if run.full else 'incremental'} run #{run.pk} {run.status}: {elapsed:.1f}s wall; "
          f"{run.chunks_total} chunks, {run.person_years_total} person-years, {run.bills_changed} bills changed, "
          f"{run.adjustments_created} adjustments, {run.warnings_created} warnings, "
          f"{len(run.invariant_violations)} violations, errors={run.errors[:3]}")
    return elapsed


def touch_certifications(share: float, seed: int = 7) -> int:
    """Change ``share`` of the certifications: half backdated revocations, half new backdated ones."""
    from beneficiaries.models import Certification

    rng = random.Random(seed)  # noqa: S311
    total = Certification.objects.count()
    wanted = max(1, int(total * share))
    open_ids = list(Certification.objects.filter(valid_until__isnull=True).values_list("id", flat=True))
    revoke = rng.sample(open_ids, min(len(open_ids), wanted // 2))
    for cert in Certification.objects.filter(pk__in=revoke).select_related("person"):
        cert.valid_until = max(cert.valid_from, date(2024, 3, 31))
        cert.revocation_reason = "基准测试：追溯终止"
        cert.save()
    added = 0
    template = Certification.objects.select_related("category", "agency").first()
    from beneficiaries.models import Person

    # Sizes are read from the data (issue 20): the share is of the certifications really there,
    # and the new ones go to persons that exist, whatever size generate_synthetic was given.
    person_ids = list(Person.objects.values_list("pk", flat=True))
    people = rng.sample(person_ids, min(len(person_ids), wanted - len(revoke)))
    for pid in sorted(people):
        Certification.objects.create(person_id=pid, category=template.category, agency=template.agency,
                                     valid_from=date(2023, 6, 1), document_ref="基准测试〔2026〕1号")
        added += 1
    print(f"changed {len(revoke)} + {added} certifications of {total} ({100 * (len(revoke) + added) / total:.2f}%)")
    return len(revoke) + added


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("steps", nargs="+", choices=["floor", "full", "incremental", "sync-full"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--share", type=float, default=0.01)
    args = parser.parse_args()
    from django.conf import settings

    if not settings.REDIS_URL and any(s in ("full", "incremental") for s in args.steps):
        sys.exit("REDIS_URL must point at Redis for the Celery steps")
    worker = start_workers(args.workers) if any(s in ("full", "incremental") for s in args.steps) else None
    try:
        for step in args.steps:
            if step == "floor":
                floor()
            elif step == "full":
                celery_run(full=True)
            elif step == "sync-full":
                from monitoring import services

                run = services.run_synchronously(full=True)
                print(f"sync full run #{run.pk}: {(run.finished_at - run.started_at).total_seconds():.1f}s")
            elif step == "incremental":
                touch_certifications(args.share)
                celery_run(full=False)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)


if __name__ == "__main__":
    main()
