"""Benchmark: the roster import (名单导入) on a generated 100,000-row file, command code path.

Usage (a dedicated, empty PostgreSQL database; the script migrates it):

    dropdb -h 127.0.0.1 -U postgres --if-exists h_beneficiaries_bench
    createdb -h 127.0.0.1 -U postgres h_beneficiaries_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_beneficiaries_bench \
        .venv/bin/python benchmarks/beneficiaries_import.py --rows 100000

Runs, each through ``manage.py import_roster`` (call_command, same code as the web import):
1. first import: every row registers a new person and creates a certification (worst case:
   2 × 100,000 rows + 2 × 100,000 history rows);
2. a roster of already-registered persons: 100,000 new certifications of another category;
3. re-import of file 1: 100,000 unchanged (idempotency);
4. a roster with 1% of rows dropped and ``--revoke-missing``: revocations via bulk update with
   history.
Prints rows/s per run; target ≥ 2,000 rows/s.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国志红玉梅文辉鹏飞宇浩然思雨欣怡子涵梓轩"


def generate(path: Path, rows: int, *, category: str, region_codes: list[str], seed: int = 0, skip_every: int = 0) -> int:
    from beneficiaries import idnumber

    written = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("id_number,name,category,valid_from,valid_until,document_ref\n")
        for i in range(rows):
            code = region_codes[i % len(region_codes)]
            born = date(1940 + (i // 366000) % 70, 1 + (i // 1000) % 12, 1 + (i // 12000) % 28)
            number = idnumber.make(code, born, i % 1000)
            if skip_every and i % skip_every == 0:
                continue
            fh.write(f"{number},{name_for(i)},{category},2024-01-01,,京朝民〔2024〕{i % 500 + 1}号\n")
            written += 1
    return written


def name_for(i: int) -> str:
    """A deterministic name per row index, so re-generated rosters keep the registered name."""
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)] + (GIVEN[(i // 13) % len(GIVEN)] if i % 3 else "")


def run(label: str, path: Path, agency: str, rows: int, *extra: str) -> float:
    from django.core.management import call_command

    out = io.StringIO()
    start = time.perf_counter()
    try:
        call_command("import_roster", str(path), "--agency", agency, *extra, stdout=out)
    except SystemExit as exc:
        if exc.code:
            print(out.getvalue()[:2000])
            raise
    elapsed = time.perf_counter() - start
    print(f"{label:<58} {rows:>7} rows  {elapsed:7.2f} s  {rows / elapsed:9.0f} rows/s   [{out.getvalue().splitlines()[0]}]")
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from beneficiaries.models import Person
    from organizations.models import Agency, AgencyKind, District, Region

    call_command("migrate", verbosity=0)
    if Person.objects.exists():
        sys.exit("This benchmark needs an empty database (see the docstring: dropdb/createdb).")
    region, _ = Region.objects.get_or_create(code="110000", defaults={"name": "北京市", "short_name": "京"})
    district, _ = District.objects.get_or_create(code="110105", defaults={"region": region, "name": "朝阳区", "short_name": "京朝"})
    agency, _ = Agency.objects.get_or_create(
        code="110105-civil_affairs",
        defaults={"kind": AgencyKind.CIVIL_AFFAIRS, "name": "北京市朝阳区民政局", "region": region, "district": district})
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    rows = args.rows
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        first, second, dropped = tmp_path / "first.csv", tmp_path / "second.csv", tmp_path / "dropped.csv"
        generate(first, rows, category="minimum_living", region_codes=["110105"], seed=1)
        generate(second, rows, category="marginal_family", region_codes=["110105"], seed=1)
        kept = generate(dropped, rows, category="minimum_living", region_codes=["110105"], seed=1, skip_every=100)
        results = [
            run("1. new persons + certifications", first, agency.code, rows),
            run("2. registered persons, new certifications", second, agency.code, rows),
            run("3. re-import of file 1 (all unchanged)", first, agency.code, rows),
            run(f"4. 1% dropped, --revoke-missing ({rows - kept} revoked)", dropped, agency.code, kept,
                "--revoke-missing", "2024-12-31"),
            run("5. --dry-run of file 2", second, agency.code, rows, "--dry-run"),
        ]
    print(f"slowest: {min(results):.0f} rows/s (target >= 2000)")


if __name__ == "__main__":
    main()
