"""Claim/bill list page server time at scale (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_claims_bench \\
      .venv/bin/python manage.py generate_synthetic --people 200000 --claims 1000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_claims_bench \\
      .venv/bin/python benchmarks/claims_list.py [--runs 40]

Renders the real views in-process with Django's test client (so the figure is server time:
URL routing, scope, filters, the keyset query, template rendering; no network), logged in as a
district caseworker and as a city-level auditor, for a set of filter combinations, each run
``--runs`` times after one warm-up request. Prints p50/p95 per scenario and over all requests.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DJANGO_DEBUG", "0")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.test.utils import setup_test_environment

    from claims.models import Bill
    from organizations import roles
    from organizations.models import Agency, AgencyKind, District, Institution, StaffProfile

    setup_test_environment()  # response.context for row counts (adds a little render overhead)
    settings.ALLOWED_HOSTS = ["*"]
    if "axes" in settings.INSTALLED_APPS:
        settings.AXES_ENABLED = False
    district = District.objects.get(code="110105")
    institution = Institution.objects.filter(district=district).order_by("code").first()
    users = {}
    for name, role, city in (("bench-caseworker", roles.CASEWORKER, False), ("bench-auditor", roles.AUDITOR, True)):
        user, _ = get_user_model().objects.get_or_create(username=name)
        user.groups.add(Group.objects.get(name=role))
        agency = Agency.objects.get_or_create(code=f"{district.region.code if city else district.code}-medical_security",
                                              defaults={"kind": AgencyKind.MEDICAL_SECURITY, "name": "bench",
                                                        "region": district.region, "district": None if city else district})[0]
        StaffProfile.objects.get_or_create(user=user, defaults={"agency": agency, "district": None if city else district})
        users[name] = user
    total = Bill.objects.count()
    scenarios = [
        ("bills: no filter", "/claims/bills/", {}),
        ("bills: status=hospital_paid", "/claims/bills/", {"status": "hospital_paid"}),
        ("bills: inpatient + 2024 date range", "/claims/bills/", {"visit_type": "inpatient", "date_from": "2024-03-01", "date_to": "2024-06-30"}),
        ("bills: institution", "/claims/bills/", {"institution": institution.pk}),
        ("bills: category=extreme_poverty", "/claims/bills/", {"category": "extreme_poverty"}),
        ("bills: amount 5000–20000", "/claims/bills/", {"amount_min": "5000", "amount_max": "20000"}),
        ("bills: source=manual + status=paid", "/claims/bills/", {"source": "manual", "status": "paid"}),
        ("bills: all filters", "/claims/bills/", {"district": district.pk, "status": "hospital_paid", "visit_type": "inpatient",
                                                  "date_from": "2023-01-01", "date_to": "2024-12-31", "category": "minimum_living",
                                                  "amount_min": "1000"}),
        ("claims: status=submitted", "/claims/", {"status": "submitted"}),
        ("claims: visit_type=inpatient (EXISTS)", "/claims/", {"visit_type": "inpatient"}),
    ]
    # Deep pages (issue 20): the keyset cursor of the rows at 25,000 and 250,000 of the unfiltered
    # bill list, as a caseworker reaches them by "next", read from the data (sizes vary).
    ordered = Bill.objects.order_by("-discharge_date", "-id").values_list("discharge_date", "id")
    for depth in (25_000, 250_000):
        if total > depth:
            day, pk = ordered[depth]
            scenarios.append((f"bills: deep page at row {depth:,}", "/claims/bills/", {"after": f"{day.isoformat()}_{pk}"}))
    # The floor in the same run: an authenticated /healthz (routing, session, auth; no list).
    scenarios.insert(0, ("floor: /healthz (signed in)", "/healthz", {}))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def pct(values, q):
        ordered = sorted(values)
        return ordered[max(0, int(round(q / 100 * len(ordered))) - 1)]

    all_times: list[float] = []
    all_list: list[float] = []
    print(f"bills in database: {total:,}; runs per scenario: {args.runs}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'user':<18} {'scenario':<40} {'p50 ms':>8} {'p95 ms':>8} {'cpu p95':>8} {'sql p95':>8} {'list q':>8} {'rows':>5}")
    for username, user in users.items():
        client = Client()
        client.force_login(user)
        for label, url, params in scenarios:
            response = client.get(url, params)  # warm-up
            assert response.status_code == 200, (label, response.status_code)
            context = response.context or {}
            rows = len(context["bills"] if "bills" in context else context.get("claims", ()))
            # second page through the cursor, too (half of the runs)
            next_q = context.get("next_query") if "after" not in params else None
            times, cpus, sqls, lists = [], [], [], []
            for i in range(args.runs):
                with CaptureQueriesContext(connection) as queries:
                    t0, c0 = time.perf_counter(), time.process_time()
                    if next_q and i % 2:
                        r = client.get(f"{url}?{next_q}")
                    else:
                        r = client.get(url, params)
                    times.append((time.perf_counter() - t0) * 1000)
                    cpus.append((time.process_time() - c0) * 1000)
                assert r.status_code == 200
                sqls.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
                main = [float(q["time"]) * 1000 for q in queries.captured_queries
                        if q["sql"].startswith('SELECT "claims_bill"."id"') or q["sql"].startswith('SELECT "claims_claim"."id"')]
                lists.append(max(main) if main else 0.0)
            if not label.startswith("floor"):
                all_times.extend(times)
                all_list.extend(lists)
            print(f"{username:<18} {label:<40} {pct(times, 50):8.1f} {pct(times, 95):8.1f} {pct(cpus, 95):8.1f} "
                  f"{pct(sqls, 95):8.1f} {pct(lists, 95):8.1f} {rows:5d}")
    print(f"ALL requests: n={len(all_times)} p50={statistics.median(all_times):.1f} ms p95={pct(all_times, 95):.1f} ms "
          f"max={max(all_times):.1f} ms; list query p95={pct(all_list, 95):.1f} ms; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
