"""Add 依申请救助 applications to a generated benchmark database, so that the application list is
measured at scale beside the bills (issue 20): ``generate_synthetic`` makes people, households and
bills but no applications.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_new \\
        .venv/bin/python benchmarks/seed_applications.py --applications 200000

One application per household and year, over the households that have members, spread over every
district and over the open statuses and 不予救助 (rejected). None is approved and none carries a
relief figure, so no money figure of the database changes (the fund pre-aggregate, the ledgers
and every report stay as they were). Idempotent: numbers are ``SEED-<household>-<year>`` and
existing ones are skipped. Writes only to the database named in ``DATABASE_URL``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=200_000)
    parser.add_argument("--years", default="2024,2025", help="application years, comma-separated")
    args = parser.parse_args()

    import django

    django.setup()
    from applications.models import Application, Status
    from beneficiaries.models import Person

    years = [int(y) for y in args.years.split(",")]
    statuses = [Status.RECEIVED, Status.ASSESSING, Status.GATHERING, Status.REVIEWING, Status.REJECTED]
    started = time.perf_counter()
    # one applicant per household: its lowest person id
    heads: dict[int, tuple[int, int]] = {}
    for pk, household_id, district_id in (Person.objects.filter(household__isnull=False).order_by("pk")
                                          .values_list("pk", "household_id", "household__district_id").iterator(5000)):
        heads.setdefault(household_id, (pk, district_id))
    have = set(Application.objects.filter(number__startswith="SEED-").values_list("number", flat=True))
    batch: list[Application] = []
    made = 0
    for year in years:
        for i, (household_id, (person_id, district_id)) in enumerate(sorted(heads.items())):
            if made >= args.applications:
                break
            number = f"SEED-{household_id}-{year}"
            if number in have:
                continue
            batch.append(Application(
                number=number, household_id=household_id, applicant_id=person_id, district_id=district_id,
                received_on=date(year, 1, 2) + timedelta(days=i % 360), year=year, status=statuses[i % len(statuses)],
                decision_reason="基准数据" if statuses[i % len(statuses)] == Status.REJECTED else "",
            ))
            made += 1
            if len(batch) >= 5000:
                Application.objects.bulk_create(batch)
                batch = []
    Application.objects.bulk_create(batch)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Application._meta.db_table}")
    print(f"{made:,} applications added over {len(heads):,} households in {time.perf_counter() - started:.1f} s; "
          f"{Application.objects.count():,} in all")


if __name__ == "__main__":
    main()
