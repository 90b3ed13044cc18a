"""Fund report (医疗救助基金支出月报) server time beside its floor, in one run (issue 20).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_fund_bench \\
      .venv/bin/python manage.py generate_synthetic --people 20000 --claims 100000
    DATABASE_URL=… .venv/bin/python manage.py recalculate --full
    DATABASE_URL=… .venv/bin/python benchmarks/reports_fund.py [--runs 20] [--clients 1]

Renders the real report page in-process with Django's test client (server time: routing,
session, scope, the pre-aggregate queries, template rendering with the chart), as a district
caseworker (their district) and as a city-level auditor (every district), for the busiest year
in the data, the whole year and its last month, each ``--runs`` times after one warm-up.

In the same run:
- the floor: an authenticated ``/healthz`` (routing, session, auth; no report);
- the three-tier report by category (三重制度保障构成) over the whole year, from the same
  pre-aggregate, and the same page over a period ending inside a month (to 30 December), which
  still scans the bills per request: the old way, in the same run;
- the old way, for reference: the per-request scan the report used to do, timed as
  ``reports.aggregate.scan`` restricted to the year (bills through ``claims.money`` grouped by
  month, category and visit class; what the pre-aggregate replaces).

``--clients N`` runs N threads, each with its own client and connection, on the floor, the
city-wide and the district scenario in turn (bounded by ``--runs`` per thread): the floor under
the same concurrency is the figure to divide by. Sizes are read from the data.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DJANGO_DEBUG", "0")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(q / 100 * len(ordered))) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--clients", type=int, default=1, help="concurrent clients on the city-wide report")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse

    from claims.models import Bill
    from organizations import roles
    from organizations.models import Agency, AgencyKind, District, StaffProfile
    from reports.models import FundMonth

    settings.ALLOWED_HOSTS = ["*"]
    if "axes" in settings.INSTALLED_APPS:
        settings.AXES_ENABLED = False
    district = District.objects.annotate(n=Count("bills")).order_by("-n").first()
    users = {}
    for name, role, city in (("bench-fund-caseworker", roles.CASEWORKER, False), ("bench-fund-auditor", roles.AUDITOR, True)):
        user, _ = get_user_model().objects.get_or_create(username=name)
        user.groups.add(Group.objects.get(name=role))
        agency = Agency.objects.get_or_create(code=f"{district.region.code if city else district.code}-medical_security",
                                              defaults={"kind": AgencyKind.MEDICAL_SECURITY, "name": "bench",
                                                        "region": district.region, "district": None if city else district})[0]
        StaffProfile.objects.get_or_create(user=user, defaults={"agency": agency, "district": None if city else district})
        users[name] = user
    busiest = FundMonth.objects.values("year").annotate(n=Count("id")).order_by("-n").first()
    year = busiest["year"] if busiest else 2024
    bills = Bill.objects.count()
    rows = FundMonth.objects.count()
    url = reverse("reports:report", args=["fund"])
    tier_url = reverse("reports:report", args=["three-tier"])
    tier_whole = {"date_from": f"{year}-01-01", "date_to": f"{year}-12-31", "by": "category"}
    # the same page over a period ending inside a month: the old per-request scan of the bills
    tier_scan = {**tier_whole, "date_to": f"{year}-12-30"}
    scenarios = [("floor: /healthz (signed in)", "/healthz", {}),
                 (f"fund {year} whole year", url, {"year": year}),
                 (f"fund {year}-12 (month + YTD)", url, {"year": year, "month": 12}),
                 (f"three-tier {year} by category", tier_url, tier_whole),
                 ("old: three-tier scan (to 12-30)", tier_url, tier_scan)]
    load0 = os.getloadavg()
    print(f"bills {bills:,}; pre-aggregate rows {rows:,}; year {year}; district {district.name}; runs {args.runs}; "
          f"load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    print(f"{'user':<24} {'scenario':<32} {'p50 ms':>8} {'p95 ms':>8} {'x floor p50':>11}")
    for username, user in users.items():
        client = Client()
        client.force_login(user)
        floor = None
        for label, path, params in scenarios:
            response = client.get(path, params)
            assert response.status_code == 200, (label, response.status_code)
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                r = client.get(path, params)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200
            p50 = statistics.median(times)
            floor = floor or p50
            print(f"{username:<24} {label:<32} {p50:8.1f} {pct(times, 95):8.1f} {p50 / floor:11.1f}")
    # the old way: the per-request scan of the bills (reference; a few runs)
    from reports import aggregate

    scan_times = []
    for _ in range(1):
        t0 = time.perf_counter()
        expected = aggregate.scan()
        scan_times.append((time.perf_counter() - t0) * 1000)
    print(f"{'(reference)':<24} {'old: scan of the bills, all years':<32} {statistics.median(scan_times):8.1f} "
          f"{max(scan_times):8.1f}   ({len(expected):,} keys)")
    if args.clients > 1:
        from reports.models import FundDistrictMonth

        print(f"district level rows {FundDistrictMonth.objects.count():,}")
        for label, who, path, params in (
                ("floor: /healthz (signed in)", users["bench-fund-auditor"], "/healthz", {}),
                (f"city-wide {year}", users["bench-fund-auditor"], url, {"year": year}),
                (f"district {year}", users["bench-fund-caseworker"], url, {"year": year}),
                (f"three-tier city-wide {year}", users["bench-fund-auditor"], tier_url, tier_whole),
                (f"three-tier district {year}", users["bench-fund-caseworker"], tier_url, tier_whole)):
            results: list[float] = []
            lock = threading.Lock()

            def worker(who=who, path=path, params=params, results=results, lock=lock) -> None:
                client = Client()
                client.force_login(who)
                mine = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    assert client.get(path, params).status_code == 200
                    mine.append((time.perf_counter() - t0) * 1000)
                with lock:
                    results.extend(mine)
                connection.close()

            threads = [threading.Thread(target=worker) for _ in range(args.clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            print(f"{args.clients} concurrent clients, {label}: p50 {statistics.median(results):.1f} ms, "
                  f"p95 {pct(results, 95):.1f} ms, {len(results) / wall:.1f} requests/s", flush=True)
    load1 = os.getloadavg()
    print(f"load average at the end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
