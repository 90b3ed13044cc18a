"""Demo data for 依申请救助: applications in different states, made through the real services.

The demo illness-poverty household (李建军, from beneficiaries/demo.py) gets a rejected application
for 2024 (papers not supplied in time), an approved one for 2025 (counting 2024 bills) and one awaiting
the reviewer for 2026 (counting 2025 bills); the marginal family (高文博) has one at the
civil-affairs assessment; a Haidian household (许明辉) one just received by the Haidian window. Bills the
applications count are added when the household has none in the counted year (settlement numbers
prefixed YSQ-, so they never collide with claims' demo data). Idempotent; skipped quietly when the
demo persons or users are absent.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction

from organizations import roles

D = Decimal

# (person key, relation to the patient is irrelevant here), institution code, settlement no, visit type,
# admission, discharge, total, scope, basic, critical, other
BILLS = [
    ("illness_poverty_patient", "H11010500012", "YSQ-2024-0001", "inpatient", date(2024, 3, 4), date(2024, 3, 22),
     D("86000.00"), D("78000.00"), D("41000.00"), D("6500.00"), D("0.00")),
    ("illness_poverty_patient", "H11010500011", "YSQ-2024-0002", "outpatient_special", date(2024, 9, 10),
     date(2024, 9, 10), D("9800.00"), D("9500.00"), D("5200.00"), D("0.00"), D("0.00")),
    ("illness_poverty_spouse", "H11010500231", "YSQ-2024-0003", "outpatient", date(2024, 11, 2), date(2024, 11, 2),
     D("3200.00"), D("3000.00"), D("1500.00"), D("0.00"), D("0.00")),
    ("illness_poverty_patient", "H11010500012", "YSQ-2025-0001", "inpatient", date(2025, 5, 6), date(2025, 5, 30),
     D("132000.00"), D("118000.00"), D("52000.00"), D("18000.00"), D("5000.00")),
    ("illness_poverty_spouse", "H11010500999", "YSQ-2025-0002", "inpatient", date(2025, 8, 1), date(2025, 8, 6),
     D("12000.00"), D("12000.00"), D("0.00"), D("0.00"), D("0.00")),
    ("illness_poverty_child", "H11010500011", "YSQ-2025-0003", "inpatient", date(2025, 10, 8), date(2025, 10, 15),
     D("26000.00"), D("24000.00"), D("15000.00"), D("0.00"), D("0.00")),
]


def seed(ctx: dict) -> None:
    from beneficiaries.models import Person
    from claims.models import Bill
    from organizations.models import Institution

    from . import services
    from .models import Application, AssessmentResult, Status

    persons: dict = ctx.get("person") or {}
    users: dict = ctx.get("users") or {}
    caseworker, reviewer, certifier = users.get(roles.CASEWORKER), users.get(roles.REVIEWER), users.get(roles.CERTIFIER)
    patient = persons.get("illness_poverty_patient")
    if patient is None:
        patient = Person.objects.filter(name="李建军", household__isnull=False).first()
    if None in (patient, caseworker, reviewer, certifier) or patient.household_id is None:
        return
    household = patient.household
    institutions = {i.code: i for i in Institution.objects.filter(code__in={b[1] for b in BILLS})}
    members = {p.name: p for p in household.members.all()}
    keys = {"illness_poverty_patient": patient,
            "illness_poverty_spouse": persons.get("illness_poverty_spouse") or members.get("王秀英"),
            "illness_poverty_child": persons.get("illness_poverty_child") or members.get("李晓雨")}
    for key, code, number, visit, start, end, total, scope, basic, critical, other in BILLS:
        person, institution = keys.get(key), institutions.get(code)
        if person is None or institution is None:
            continue
        Bill.objects.get_or_create(
            institution=institution, settlement_no=number,
            defaults={"person": person, "district": person.hukou_district, "visit_type": visit, "admission_date": start,
                      "discharge_date": end, "total_cost": total, "policy_scope_cost": scope, "basic_paid": basic,
                      "critical_paid": critical, "other_paid": other, "created_by": caseworker},
        )

    def walk(*, household, applicant, on: date, until: str, channel: str = "window", proxy: str = "",
             reject: str = "", window_clerk=None) -> None:
        if Application.objects.filter(household=household, year=on.year).exists():
            return
        with transaction.atomic():
            application = services.application_create(
                household=household, applicant=applicant, received_on=on, by=window_clerk or caseworker,
                channel=channel, proxy_name=proxy, contact_name=applicant.name, contact_phone=applicant.phone)
            if until == Status.RECEIVED:
                return
            services.application_send_to_assessment(application=application, by=caseworker)
            if until == Status.ASSESSING:
                return
            services.assessment_record(
                application=application, by=certifier, annual_income=D("42000.00"), assets=D("35000.00"),
                members_count=household.members.count() or 1, result=AssessmentResult.CERTIFIED,
                document_ref=f"京朝民医〔{on.year}〕{application.pk:03d}号")
            if until == Status.GATHERING:
                return
            services.relief_compute(application=application, by=caseworker)
            if until == Status.REVIEWING:
                return
            services.application_decide(application=application, by=reviewer, approve=not reject, reason=reject,
                                        payment_route="" if reject else "社会化发放至申请人银行账户")

    walk(household=household, applicant=patient, on=date(2024, 1, 15), until=Status.REJECTED,
         reject="申请人未按告知期限补正2023年度住院费用票据及病历材料，无法核实费用。")
    walk(household=household, applicant=patient, on=date(2025, 3, 12), until=Status.APPROVED)
    walk(household=household, applicant=patient, on=date(2026, 2, 16), until=Status.REVIEWING,
         channel="community_proxy", proxy="劲松三区社区居委会 刘红")
    marginal = persons.get("marginal") or Person.objects.filter(name="高文博", household__isnull=False).first()
    if marginal is not None and marginal.household_id is not None:
        walk(household=marginal.household, applicant=marginal, on=date(2026, 11, 9), until=Status.ASSESSING)
    haidian_clerk = users.get("haidian_caseworker")
    haidian = persons.get("haidian") or Person.objects.filter(name="许明辉", household__isnull=False).first()
    if haidian_clerk is not None and haidian is not None and haidian.household_id is not None:
        walk(household=haidian.household, applicant=haidian, on=date(2026, 11, 20), until=Status.RECEIVED,
             window_clerk=haidian_clerk)
