"""Recompute throughput (``claims.services.recompute_person_years``) on the synthetic database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_claims_bench .venv/bin/python benchmarks/claims_recompute.py --people 5000

Takes the first ``--people`` people with bills, recomputes all their person-years in chunks
(``--chunk``), first for real (the first computation writes every bill), then again (nothing
changes: the idempotent re-run the nightly job does most nights). Prints person-years/s and bills/s.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DJANGO_DEBUG", "0")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--offset", type=int, default=0, help="skip this many people (fresh ones for the first run)")
    args = parser.parse_args()
    import django

    django.setup()
    from claims.models import Bill
    from claims.services import PolicyCache, recompute_person_years

    people = list(Bill.objects.values_list("person_id", flat=True).distinct().order_by("person_id")
                  [args.offset:args.offset + args.people])
    pairs = sorted(set(Bill.objects.filter(person_id__in=people).values_list("person_id", "discharge_date__year")))
    bills = Bill.objects.filter(person_id__in=people).count()
    print(f"{len(people)} people, {len(pairs)} person-years, {bills} bills; chunk {args.chunk}")
    cache = PolicyCache()
    for label in ("first run (writes)", "second run (no change)"):
        t0 = time.perf_counter()
        outcomes = recompute_person_years(person_years=pairs, cache=cache, chunk=args.chunk)
        elapsed = time.perf_counter() - t0
        changed = sum(o.bills_changed for o in outcomes)
        print(f"{label:<24} {elapsed:7.1f}s  {len(pairs) / elapsed:7.0f} person-years/s  {bills / elapsed:7.0f} bills/s"
              f"  bills changed {changed}, adjustments {sum(o.adjustments_created for o in outcomes)}")


if __name__ == "__main__":
    main()
