"""Benchmark: 依申请救助 on a large household history and a long application list.

Usage (a dedicated, empty PostgreSQL database; the script migrates it):

    dropdb -h 127.0.0.1 -U postgres --if-exists h_applications_bench
    createdb -h 127.0.0.1 -U postgres h_applications_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_applications_bench \
        .venv/bin/python benchmarks/applications_bench.py --bills 5000 --applications 20000

Measures, through the real services and views:
1. ``relief_compute`` (gather + engine + store) for one household of 5 members with ``--bills``
   bills in the counted year (a worst case: a real household has tens);
2. the application list page (``/applications/?queue=open``) and a detail page, server time
   over 20 requests each (median and p95), with ``--applications`` applications in the district.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bills", type=int, default=5000)
    parser.add_argument("--applications", type=int, default=20000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    call_command("migrate", verbosity=0)
    setup_test_environment()
    from django.contrib.auth import get_user_model

    from applications import services
    from applications.models import Application, ApplicationTransition, AssessmentResult, Status
    from beneficiaries import idnumber
    from beneficiaries.models import Household, Person
    from claims.models import Bill
    from organizations import roles
    from organizations.models import Agency, District, Institution, Region, StaffProfile

    region, _ = Region.objects.get_or_create(code="110000", defaults={"name": "北京市", "short_name": "京"})
    district, _ = District.objects.get_or_create(code="110105", defaults={"region": region, "name": "朝阳区", "short_name": "京朝"})
    users = {}
    for role, kind in ((roles.CASEWORKER, "medical_security"), (roles.REVIEWER, "medical_security"),
                       (roles.CERTIFIER, "civil_affairs")):
        agency, _ = Agency.objects.get_or_create(code=f"bench-{kind}", defaults={"kind": kind, "name": kind, "region": region, "district": district})
        user, created = get_user_model().objects.get_or_create(username=f"bench-{role}")
        if created:
            user.groups.add(Group.objects.get(name=role))
            StaffProfile.objects.create(user=user, agency=agency, district=district)
        users[role] = user
    hospital, _ = Institution.objects.get_or_create(code="HBENCH", defaults={"name": "基准医院", "level": "tertiary", "district": district})

    seq = Person.objects.count() + 1

    def person(household):
        nonlocal seq
        seq += 1
        number = idnumber.make("110105", date(1960, 1, 1) + timedelta(days=seq // 1000), seq % 1000)
        info = idnumber.parse(number)
        return Person(id_number=number, name=f"基准{seq}", gender=info.gender, birth_date=info.birth_date,
                      hukou_district=district, insured_region=region, household=household, relation="head")

    # 1. one household with many bills
    household = Household.objects.create(district=district)
    members = [person(household) for _ in range(5)]
    for m in members:
        m.save()
    Bill.objects.bulk_create([
        Bill(person=members[i % 5], district=district, institution=hospital, settlement_no=f"B{household.pk}-{i}",
             visit_type="inpatient", admission_date=date(2023, 1, 1) + timedelta(days=i % 360),
             discharge_date=date(2023, 1, 2) + timedelta(days=i % 360), total_cost=Decimal("1000.00"),
             policy_scope_cost=Decimal("900.00"), basic_paid=Decimal("500.00"))
        for i in range(args.bills)
    ], batch_size=2000)
    application = services.application_create(household=household, applicant=members[0], received_on=date(2024, 3, 1),
                                              by=users[roles.CASEWORKER])
    services.application_send_to_assessment(application=application, by=users[roles.CASEWORKER])
    services.assessment_record(application=application, by=users[roles.CERTIFIER], annual_income=Decimal("1"),
                               assets=Decimal("0"), members_count=5, result=AssessmentResult.CERTIFIED)
    started = time.perf_counter()
    services.relief_compute(application=application, by=users[roles.CASEWORKER])
    elapsed = time.perf_counter() - started
    application.refresh_from_db()
    print(f"relief_compute: {args.bills} bills, 5 members: {elapsed:.3f} s "
          f"(burden {application.burden}, relief {application.relief})")

    # 2. many applications: the list and a detail page
    have = Application.objects.filter(district=district).count()
    batch_h, batch_p = [], []
    for _ in range(max(0, args.applications - have)):
        batch_h.append(Household(district=district))
    Household.objects.bulk_create(batch_h, batch_size=2000)
    for h in batch_h:
        batch_p.append(person(h))
    Person.objects.bulk_create(batch_p, batch_size=2000)
    statuses = [Status.RECEIVED, Status.ASSESSING, Status.GATHERING, Status.REVIEWING, Status.APPROVED]
    apps = [Application(household=h, applicant=p, district=district, received_on=date(2026, 1, 1) + timedelta(days=i % 300),
                        year=2026, status=statuses[i % 5], number=f"BENCH-{h.pk}")
            for i, (h, p) in enumerate(zip(batch_h, batch_p, strict=True))]
    Application.objects.bulk_create(apps, batch_size=2000)
    ApplicationTransition.objects.bulk_create(
        [ApplicationTransition(application=a, to_status=a.status, by=users[roles.CASEWORKER]) for a in apps], batch_size=2000)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # what autovacuum does shortly after a bulk load
            cursor.execute("ANALYZE")
    client = Client()
    client.force_login(users[roles.REVIEWER])

    def timed(url: str) -> tuple[float, float]:
        samples = []
        for _ in range(20):
            t = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        samples.sort()
        return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]

    total = Application.objects.filter(district=district).count()
    for label, url in (("list (open queue)", "/applications/?queue=open"),
                       ("list filtered by name", "/applications/?queue=open&q=基准1"),
                       (f"detail ({args.bills}-bill application)", f"/applications/{application.pk}/"),
                       ("household view", f"/applications/{application.pk}/household/")):
        median, p95 = timed(url)
        print(f"{label}: {total} applications: median {median:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
