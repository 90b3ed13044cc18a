"""Settlements posted through the machine API per second at 20 concurrent clients, and the
settlement import (platform setlinfo file) in rows/s beside PostgreSQL COPY of the same rows.

    createdb -h 127.0.0.1 -U postgres h16_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/h16_bench
    .venv/bin/python manage.py migrate
    .venv/bin/python benchmarks/api_settlements.py --port 8160 --posts 2000 --rows 20000

API part: starts gunicorn on 127.0.0.1:PORT only (3 workers × 4 threads on the 2-core VM),
registers one hospital client, and 20 client threads post ``--posts`` settlements in total
(each a new setl_id for a person of the hospital's district: engine + ledger lock + reservation
per post), keep-alive HTTP/1.1. Prints posts/s and latency p50/p95, and checks that a second
post of a setl_id reserves nothing (200). Import part: writes a ``--rows``-row setlinfo CSV in
GB18030 and times ``import_settlements`` (the command's code path), then COPY of the same file
into an unlogged text table in the same run (the floor). Prints ``uptime`` beside the figures.
"""
from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DJANGO_DEBUG", "0")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()  # noqa: S603,S607


def _wait(port: int) -> None:
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/openapi.json")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def api_part(args, people, institution, token) -> None:
    env = {**os.environ, "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost"}
    server = subprocess.Popen(  # noqa: S603
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{args.port}", "-w", "3", "-k", "gthread",
         "--threads", "4", "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        _wait(args.port)
        stamp = int(time.time())
        jobs = list(range(args.posts))
        lock = threading.Lock()
        latencies: list[float] = []
        codes: dict[int, int] = {}
        rng = random.Random(11)  # noqa: S311

        def body(i: int) -> dict:
            person = people[i % len(people)]
            day = date(2024, 1, 1) + timedelta(days=rng.randrange(360))
            scope = rng.randint(1000, 50000)
            return {"setl_id": f"API{stamp}{i:07d}", "certno": person, "begndate": (day - timedelta(days=3)).isoformat(),
                    "enddate": day.isoformat(), "med_type": rng.choice(["21", "11", "14"]), "insutype": "390",
                    "medfee_sumamt": f"{scope * 1.1:.2f}", "inscp_scp_amt": f"{scope:.2f}",
                    "hifp_pay": f"{scope * 0.5:.2f}", "fixmedins_code": institution}

        bodies = [json.dumps(body(i)) for i in jobs]

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
            while True:
                with lock:
                    if not jobs:
                        break
                    i = jobs.pop()
                t0 = time.perf_counter()
                conn.request("POST", "/api/v1/settlements", bodies[i],
                             {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    codes[response.status] = codes.get(response.status, 0) + 1

        print(f"load before API run: {uptime()}")
        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        print(f"API: {args.posts} posts by {args.clients} concurrent clients in {wall:.1f}s = "
              f"{args.posts / wall:.1f} settlements/s; latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms; status codes {codes}")
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
        conn.request("POST", "/api/v1/settlements", bodies[0], {"Authorization": f"Bearer {token}",
                                                                 "Content-Type": "application/json"})
        print(f"repeat of a setl_id: HTTP {conn.getresponse().status} (200 = nothing reserved twice)")
        print(f"load after API run: {uptime()}")
    finally:
        server.terminate()
        server.wait(10)


def import_part(args, people, institution) -> None:
    from django.db import connection

    from claims.imports import PLATFORM_COLUMNS, import_settlements

    rng = random.Random(7)  # noqa: S311
    stamp = int(time.time())
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(PLATFORM_COLUMNS)
    for i in range(args.rows):
        day = date(2024, 1, 1) + timedelta(days=rng.randrange(360))
        scope = rng.randint(1000, 80000)
        basic = int(scope * rng.uniform(0.4, 0.7))
        row = {"setl_id": f"IMP{stamp}{i:07d}", "mdtrt_id": f"MD{i}", "psn_no": f"P{i}", "psn_name": "",
               "certno": people[i % len(people)], "insutype": "390", "psn_type": "11",
               "setl_time": f"{day.isoformat()} 10:00:00", "begndate": (day - timedelta(days=5)).isoformat(),
               "enddate": day.isoformat(), "med_type": rng.choice(["21", "11", "14"]), "fixmedins_code": institution,
               "fixmedins_name": "", "medfee_sumamt": f"{scope * 1.1:.2f}", "inscp_scp_amt": f"{scope:.2f}",
               "hifp_pay": f"{basic:.2f}", "cvlserv_pay": "0", "hifes_pay": "0", "hifmi_pay": "0", "hifob_pay": "0",
               "maf_pay": f"{(scope - basic) * 0.85:.2f}", "oth_pay": "0", "psn_part_amt": "0", "hosp_part_amt": "0"}
        writer.writerow([row[c] for c in PLATFORM_COLUMNS])
    text = buf.getvalue()
    data = text.encode("gb18030")
    print(f"import file: {args.rows} rows (setlinfo, GB18030), {len(data) / 1e6:.1f} MB; load {uptime()}")
    t0 = time.perf_counter()
    report = import_settlements(data=data, file_name="bench.csv", apply_good_rows=True)
    elapsed = time.perf_counter() - t0
    print(f"import_settlements: {elapsed:.1f}s = {args.rows / elapsed:.0f} rows/s ({report.counts_line()})")
    columns = ", ".join(f"{c} text" for c in PLATFORM_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE UNLOGGED TABLE IF NOT EXISTS bench_setlinfo_copy ({columns})")  # noqa: S608
        cursor.execute("TRUNCATE bench_setlinfo_copy")
        t0 = time.perf_counter()
        with cursor.cursor.copy("COPY bench_setlinfo_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            copy.write(text.encode())
        copy_elapsed = time.perf_counter() - t0
        cursor.execute("DROP TABLE bench_setlinfo_copy")
    print(f"PostgreSQL COPY of the same rows: {copy_elapsed:.2f}s = {args.rows / copy_elapsed:.0f} rows/s "
          f"(import is {elapsed / copy_elapsed:.0f}x the COPY floor); load {uptime()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8160)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--people", type=int, default=20000)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command

    from api.models import ApiClient
    from api.services import api_client_create
    from beneficiaries.models import Person
    from organizations.models import Institution

    if Person.objects.count() < args.people:
        call_command("generate_synthetic", people=args.people, claims=0)
    institution = Institution.objects.filter(designated=True).order_by("pk").first()
    people = list(Person.objects.filter(hukou_district=institution.district).values_list("id_number", flat=True)[:5000])
    print(f"{len(people)} people in {institution.district} (the hospital's district)")
    ApiClient.objects.filter(name="bench hospital").update(revoked_at=None)
    _client, token = api_client_create(name="bench hospital", institution=institution, rate_limit=10**7)
    api_part(args, people, institution.code, token)
    import_part(args, people, institution.code)


if __name__ == "__main__":
    main()
