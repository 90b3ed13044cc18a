"""Benchmark: one decision letter's render time, and issuing + batch-printing 1,000 letters on 2 cores.

Usage (PostgreSQL, so two processes really issue at once):

    createdb -h 127.0.0.1 -U postgres h_reports_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_reports_bench .venv/bin/python manage.py migrate -v0
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_reports_bench MEDIA_ROOT=/tmp/reports-bench-media \
        .venv/bin/python benchmarks/reports_letters.py --letters 1000 --workers 2

It issues real letters (numbered, rendered, stored with SHA-256) through ``letter_issue_from_content``
into the given database, then merges them into one PDF with ``print_job_run``. Run it on an empty
database: it deletes nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

CONTENT = {
    "recipient_name": "张伟", "recipient_masked_id": "110105********1234", "district_name": "朝阳区",
    "decision": "approved", "amount": "16409.02", "subject": "2023年3月住院费用的医疗救助申请",
    "bills": [{"settlement_no": f"S{i:08d}", "institution": "北京朝阳医院", "visit_type": "住院", "admission_date": "2023-03-01",
               "discharge_date": "2023-03-10", "total_cost": "30000.00", "burden": "20000.00", "assistance": a} for i, a in enumerate(("5469.67", "5469.67", "5469.68"))],
    # the rows add up to the decided amount (16,409.02): a letter whose total disagrees with its rows is a money defect
    "explanation": [
        {"label": "救助对象类别", "value": "最低生活保障对象", "clause": "京医保发〔2022〕37号 二(一)"},
        {"label": "政策范围内个人负担", "value": "20000.00", "clause": "京医保发〔2022〕37号 五(一)"},
        {"label": "起付标准（本次扣除）", "value": "0.00", "clause": "京医保发〔2022〕37号 五(二)"},
        {"label": "救助比例", "value": "80%", "clause": "京医保发〔2022〕37号 五(二)2"},
        {"label": "年度救助限额（住院）", "value": "限额 60000.00；剩余 60000.00 → 43590.98", "clause": "京医保发〔2022〕37号 五(二)2"},
        {"label": "医疗救助金额", "value": "16409.02", "clause": "京医保发〔2022〕37号 五(二)2"},
    ],
    "clauses": ["京医保发〔2022〕37号 五(一)", "京医保发〔2022〕37号 五(二)2"], "reason": "",
    "payment_route": "转账至本人社会保障卡金融账户", "policy_document": "京医保发〔2022〕37号 北京市关于健全重特大疾病医疗保险和救助制度的实施意见",
    "computed_amount": "16409.02", "reconsideration_body": "北京市朝阳区人民政府", "court": "北京市朝阳区人民法院",
}

# The floor: WeasyPrint's blank A4 page with the letter's body font and one glyph (so the same
# font is loaded, subset and embedded), rendered in the same process, interleaved with the letter,
# through the same ``html_to_pdf`` (the same shared font configuration). Since issue 20 the letter's
# body font is the GB 2312 cut of Noto Serif CJK SC (reports/letter_fonts.py); BLANK_A4_INSTALLED is
# the floor of the earlier runs (the installed 65,535-glyph face, a fresh font configuration).
BLANK_A4 = ("<!doctype html><html><head><meta charset='utf-8'><style>@page { size: A4; margin: 37mm 26mm 35mm 28mm; }"
            "html { font-family: 'Letter Serif SC', 'Letter Serif SC Rest', 'Noto Serif CJK SC'; font-size: 16pt; }"
            "</style></head><body><p>一</p></body></html>")
BLANK_A4_INSTALLED = BLANK_A4.replace("'Letter Serif SC', 'Letter Serif SC Rest', ", "")


def _setup():
    import django

    django.setup()


def _issue(args: tuple[int, int, int]) -> list[float]:
    district_id, user_id, n = args
    from django.contrib.auth import get_user_model
    from django.db import connection

    from organizations.models import District
    from reports.models import LetterKind
    from reports.services import letter_issue_from_content

    district = District.objects.get(pk=district_id)
    user = get_user_model().objects.get(pk=user_id)
    times = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=CONTENT, by=user)
        times.append(time.perf_counter() - t)
        if (i + 1) % 50 == 0:  # progress, so a run cut short still reports a rate
            print(f"  worker {district_id}: {i + 1} letters in {time.perf_counter() - start:.0f} s; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    connection.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--same-office", action="store_true", help="all workers issue for one office (contend on its number lock)")
    parser.add_argument("--skip-merge", action="store_true", help="do not batch-print (e.g. a second run on the same day)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile excerpt of 5 warm renders")
    args = parser.parse_args()
    _setup()
    from django.contrib.auth import get_user_model
    from django.utils import timezone, translation

    from organizations.models import District, Region
    from reports.models import Letter, PrintJob

    # 1. one letter's render time (HTML → PDF, no database), beside the blank A4 floor
    from reports.pdf import html_to_pdf, render_letter_pdf
    from reports.services import print_job_run

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with translation.override("zh-hans"):
        t = time.perf_counter()
        render_letter_pdf(CONTENT, "京朝医救决〔2023〕1号", date(2023, 3, 15), "北京市朝阳区医疗保障局", "ABCDEFGHJK", kind="claim_approved")
        cold = time.perf_counter() - t
        html_to_pdf(BLANK_A4)
        from weasyprint import HTML
        from weasyprint.text.fonts import FontConfiguration

        def blank_installed() -> bytes:
            return HTML(string=BLANK_A4_INSTALLED).write_pdf(font_config=FontConfiguration())

        blank_installed()
        warm, blank, blank_old = [], [], []
        size = blank_size = 0
        for i in range(args.renders):
            t = time.perf_counter()
            pdf = render_letter_pdf(CONTENT, f"京朝医救决〔2023〕{i + 1}号", date(2023, 3, 15), "北京市朝阳区医疗保障局", "ABCDEFGHJK", kind="claim_approved")
            warm.append(time.perf_counter() - t)
            size = len(pdf)
            t = time.perf_counter()
            blank_size = len(html_to_pdf(BLANK_A4))
            blank.append(time.perf_counter() - t)
            t = time.perf_counter()
            blank_installed()
            blank_old.append(time.perf_counter() - t)
        if args.profile:
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.enable()
            for i in range(5):
                render_letter_pdf(CONTENT, f"京朝医救决〔2023〕{i + 1}号", date(2023, 3, 15), "北京市朝阳区医疗保障局", "ABCDEFGHJK", kind="claim_approved")
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(r"weasyprint/(document|layout/__init__|css/__init__|pdf/__init__|pdf/fonts|draw/__init__)\.py|pydyf", 25)
            pstats.Stats(profile).sort_stats("tottime").print_stats(12)
    warm.sort()
    blank.sort()
    blank_old.sort()
    print(f"render one letter: cold {cold * 1000:.0f} ms; warm median {statistics.median(warm) * 1000:.0f} ms, "
          f"p95 {warm[int(len(warm) * 0.95) - 1] * 1000:.0f} ms over {args.renders}; {size / 1024:.0f} KiB")
    print(f"blank A4, same font (floor): median {statistics.median(blank) * 1000:.0f} ms, "
          f"p95 {blank[int(len(blank) * 0.95) - 1] * 1000:.0f} ms; {blank_size / 1024:.0f} KiB; "
          f"letter / floor = {statistics.median(warm) / statistics.median(blank):.1f}×")
    print(f"blank A4, installed 65,535-glyph face, fresh font configuration (the floor before issue 20): "
          f"median {statistics.median(blank_old) * 1000:.0f} ms, p95 {blank_old[int(len(blank_old) * 0.95) - 1] * 1000:.0f} ms; "
          f"letter / that floor = {statistics.median(warm) / statistics.median(blank_old):.1f}×")
    print(f"load average after renders: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.letters <= 0:
        return

    # 2. issue N letters with W processes, then batch-print them
    region, _ = Region.objects.get_or_create(code="990000", defaults={"name": "基准市", "short_name": "基"})
    offices = []
    for w in range(1 if args.same_office else args.workers):
        d, _ = District.objects.get_or_create(code=f"9900{w + 1:02d}", defaults={"region": region, "name": f"基准{w + 1}区", "short_name": f"基{w + 1}"})
        offices.append(d)
    # letter_issue_from_content needs ``letters.issue`` in the district (issue 15): a superuser of
    # the benchmark's own database has it everywhere (issuing decides nothing)
    user, _ = get_user_model().objects.get_or_create(username="bench-reports")
    if not user.is_superuser:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    per = args.letters // args.workers
    jobs = [(offices[w % len(offices)].pk, user.pk, per) for w in range(args.workers)]
    before = Letter.objects.count()
    from django.db import connections

    connections.close_all()  # forked workers must not share the parent's connection
    t = time.perf_counter()
    with Pool(args.workers, initializer=_setup) as pool:
        results = pool.map(_issue, jobs)
    wall = time.perf_counter() - t
    issued = Letter.objects.count() - before
    per_letter = sorted(x for r in results for x in r)
    print(f"issue {issued} letters with {args.workers} processes ({'one office' if args.same_office else f'{len(offices)} offices'}): "
          f"{wall:.1f} s wall, {issued / wall:.1f} letters/s; per letter median {statistics.median(per_letter) * 1000:.0f} ms")

    # 3. merge them into one PDF (what the batch-print task does): all of today's letters of the region
    if args.skip_merge:
        return
    job = PrintJob.objects.create(requested_by=user, region=region, issued_on=timezone.localdate())
    t = time.perf_counter()
    job = print_job_run(job_id=job.pk)
    merge = time.perf_counter() - t
    print(f"batch print: {job.letter_count} letters merged in {merge:.1f} s; {job.file.size / 1024 / 1024:.0f} MiB")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
