"""Pages at scale (issue 20): claim, bill and application lists (page 1 and deep pages at rows
25,000 and 250,000 where the data has them), a person detail and the fund report, each beside an
authenticated ``/healthz`` floor in the same run, with 1 and N concurrent clients.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h47 \\
      .venv/bin/python benchmarks/pages_bench.py [--runs 20] [--clients 20]

Server time through Django's test client, in-process (routing, session, scope, queries, template),
as a city-level auditor. Concurrency: N threads in one process, each with its own client and
database connection, all on the same page; the floor is measured the same way (N threads on
``/healthz``), so the ratio compares like with like (one Python process: the GIL serialises the
Python part of the N requests, as one sync worker per core would). Deep pages follow each list's
keyset cursor, the one its "next" link carries (organizations.listing.keyset_page), for the row
at that depth read from the data: the bill list ``after=<discharge_date>_<id>``, the claim list
(default order, newest number first) ``after=<id>``, the application list (default queue and
order) ``after=<received_on>_<id>``. Query counts per page are printed (they must not depend on
the depth). Sizes are read from the data.
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
    parser.add_argument("--runs", type=int, default=20, help="requests per scenario (per client when concurrent)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--only", default="", help="comma-separated scenario label prefixes")
    parser.add_argument("--other-reports", action="store_true", help="also every other report, city-wide")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from applications.models import OPEN_STATUSES, Application
    from beneficiaries.models import Person
    from claims.models import Bill, Claim
    from organizations import roles
    from organizations.models import Agency, AgencyKind, District, StaffProfile
    from reports.models import FundMonth

    settings.ALLOWED_HOSTS = ["*"]
    if "axes" in settings.INSTALLED_APPS:
        settings.AXES_ENABLED = False
    district = District.objects.annotate(n=Count("bills")).order_by("-n").first()
    user, _ = get_user_model().objects.get_or_create(username="bench-pages-auditor")
    user.groups.add(Group.objects.get(name=roles.AUDITOR))
    agency = Agency.objects.get_or_create(code=f"{district.region.code}-medical_security",
                                          defaults={"kind": AgencyKind.MEDICAL_SECURITY, "name": "bench",
                                                    "region": district.region, "district": None})[0]
    StaffProfile.objects.get_or_create(user=user, defaults={"agency": agency, "district": None})
    caseworker, _ = get_user_model().objects.get_or_create(username="bench-pages-caseworker")
    caseworker.groups.add(Group.objects.get(name=roles.CASEWORKER))
    d_agency = Agency.objects.get_or_create(code=f"{district.code}-medical_security",
                                            defaults={"kind": AgencyKind.MEDICAL_SECURITY, "name": "bench",
                                                      "region": district.region, "district": district})[0]
    StaffProfile.objects.get_or_create(user=caseworker, defaults={"agency": d_agency, "district": district})

    bills, claims, apps = Bill.objects.count(), Claim.objects.count(), Application.objects.count()
    busiest = FundMonth.objects.values("year").annotate(n=Count("id")).order_by("-n").first()
    year = busiest["year"] if busiest else 2024
    person = Person.objects.annotate(n=Count("bills")).filter(n__gt=0).order_by("-n").first()
    scenarios: list[tuple[str, object, str, dict]] = [("floor: /healthz (signed in)", user, "/healthz", {})]
    scenarios.append(("bill list page 1", user, "/claims/bills/", {}))
    ordered = Bill.objects.order_by("-discharge_date", "-id").values_list("discharge_date", "id")
    for depth in (25_000, 250_000):
        if bills > depth:
            day, pk = ordered[depth]
            scenarios.append((f"bill list row {depth:,} (keyset)", user, "/claims/bills/", {"after": f"{day.isoformat()}_{pk}"}))
    scenarios.append(("claim list page 1", user, "/claims/", {}))
    # the cursor of the row at that depth in the list's default order (-id: ``after=<id>``), as
    # the "next" links carry it (organizations.listing.keyset_page)
    claim_ids = Claim.objects.order_by("-id").values_list("id", flat=True)
    for depth in (25_000, 250_000):
        if claims > depth:
            scenarios.append((f"claim list row {depth:,} (keyset)", user, "/claims/", {"after": claim_ids[depth]}))
    scenarios.append(("application list page 1", user, "/applications/", {}))
    # default queue (open) and order (received_on, id): ``after=<received_on>_<id>``
    open_apps = Application.objects.filter(status__in=OPEN_STATUSES).order_by("received_on", "id")
    for depth in (25_000, 250_000):
        if apps > depth and open_apps[depth:depth + 1].exists():
            day, pk = open_apps.values_list("received_on", "id")[depth]
            scenarios.append((f"application list row {depth:,} (keyset)", user, "/applications/",
                              {"after": f"{day.isoformat()}_{pk}"}))
    scenarios.append((f"person detail ({person.n} bills)", user, f"/beneficiaries/persons/{person.pk}/", {}))
    scenarios.append((f"fund report {year}, city-wide", user, "/reports/r/fund/", {"year": year}))
    scenarios.append((f"fund report {year}, district", caseworker, "/reports/r/fund/", {"year": year}))
    if args.other_reports:  # every other report, city-wide, for the period of the busiest year
        from reports.reporting import REPORTS, PeriodForm, ThreeTierForm

        for slug, report in REPORTS.items():
            if slug == "fund":
                continue
            period = report.form_class in (PeriodForm, ThreeTierForm)
            params = {"date_from": f"{year}-01-01", "date_to": f"{year}-12-31"} if period else {"year": year}
            scenarios.append((f"report {slug}", user, f"/reports/r/{slug}/", params))
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        scenarios = [s for s in scenarios if s[0].startswith("floor") or any(s[0].startswith(w) for w in wanted)]

    load0 = os.getloadavg()
    print(f"bills {bills:,}; claims {claims:,}; applications {apps:,}; runs {args.runs}; clients 1 and {args.clients}; "
          f"load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    print(f"{'scenario':<40} {'queries':>7} {'1: p50':>8} {'p95':>8} {'x floor':>7} "
          f"{f'{args.clients}: p50':>9} {'p95':>8} {'x floor':>7}")

    def one(client: Client, path: str, params: dict) -> float:
        t0 = time.perf_counter()
        r = client.get(path, params)
        elapsed = (time.perf_counter() - t0) * 1000
        assert r.status_code == 200, (path, params, r.status_code)
        return elapsed

    def concurrent(who, path: str, params: dict) -> list[float]:
        results: list[float] = []
        lock = threading.Lock()
        barrier = threading.Barrier(args.clients)

        def worker() -> None:
            client = Client()
            client.force_login(who)
            one(client, path, params)  # warm this connection
            barrier.wait()
            mine = [one(client, path, params) for _ in range(args.runs)]
            with lock:
                results.extend(mine)
            connection.close()

        threads = [threading.Thread(target=worker) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    floor1 = floorn = None
    for label, who, path, params in scenarios:
        client = Client()
        client.force_login(who)
        one(client, path, params)
        with CaptureQueriesContext(connection) as ctx:
            one(client, path, params)
        queries = len(ctx.captured_queries)  # now: the next request outside the capture resets the log
        times = [one(client, path, params) for _ in range(args.runs)]
        p95_1 = pct(times, 95)
        floor1 = floor1 or p95_1
        many = concurrent(who, path, params) if args.clients > 1 else times
        p95_n = pct(many, 95)
        floorn = floorn or p95_n
        print(f"{label:<40} {queries:7d} {statistics.median(times):8.1f} {p95_1:8.1f} {p95_1 / floor1:7.1f} "
              f"{statistics.median(many):9.1f} {p95_n:8.1f} {p95_n / floorn:7.1f}", flush=True)
    load1 = os.getloadavg()
    print(f"load average at the end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
