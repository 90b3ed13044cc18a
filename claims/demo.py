"""Demo claims data for ``manage.py seed_demo``: institutions, ~60 bills, claims in every state.

Idempotent: bills are keyed by their settlement number (``DEMO-...``), claims by a tag in their
note; a second run creates nothing. Everything goes through the services, so figures, ledgers,
transitions and differences are real (computed by the engine under the Beijing policy).
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from organizations import roles
from organizations.models import District, Institution, InstitutionLevel

from . import services
from .models import Bill, BillStatus, Claim

COUNTY_LEVEL = [
    ("H11010500301", "朝阳区中医医院", "110105"),
    ("H11010800302", "海淀区妇幼保健院", "110108"),
    ("H11010100303", "东城区中医医院", "110101"),
]
DIAGNOSES = [("C34.9", "肺恶性肿瘤"), ("I63.9", "脑梗死"), ("N18.5", "慢性肾脏病5期"), ("E11.9", "2型糖尿病"),
             ("J18.9", "肺炎"), ("C50.9", "乳腺恶性肿瘤"), ("S72.0", "股骨颈骨折"), ("I10", "原发性高血压")]
# Manual claims (person key, state, burdens) — every state of the workflow appears.
CLAIMS = [
    ("minimum_living", "paid", ["42000.00"]),
    ("extreme_poverty", "paid", ["18000.00", "2600.00"]),
    ("multi_identity", "approved", ["56000.00"]),
    ("low_income", "approved", ["9000.00"]),
    ("hardship_allowance", "submitted", ["31000.00"]),
    ("minimum_living_spouse", "submitted", ["12500.00", "800.00"]),
    ("downsized", "submitted", ["7600.00"]),
    ("returned_youth", "returned", ["15000.00"]),
    ("severe_disability", "rejected", ["6400.00"]),
    ("orphan", "draft", ["3000.00"]),
    ("ended", "draft", ["22000.00"]),
    ("haidian", "submitted", ["26000.00"]),
]


def _tag(index: int) -> str:
    return f"[demo-claim-{index}]"


def _institutions(ctx: dict) -> list[Institution]:
    districts = {d.code: d for d in District.objects.filter(code__in=[c for _a, _b, c in COUNTY_LEVEL])}
    for code, name, district_code in COUNTY_LEVEL:
        if district_code in districts:
            inst, _ = Institution.objects.get_or_create(code=code, defaults={
                "name": name, "level": InstitutionLevel.COUNTY, "district": districts[district_code]})
            ctx.setdefault("institutions", {})[code] = inst
    return list(Institution.objects.filter(district__region=ctx["region"]).order_by("code"))


def _bill_data(rng: random.Random, institution: Institution, burden: Decimal, day: date, visit: str) -> dict:
    basic = (burden * Decimal("1.6")).quantize(Decimal("0.01"))
    scope = burden + basic
    critical = Decimal("0.00")
    if scope > 60000:
        critical = (burden * Decimal("0.2")).quantize(Decimal("0.01"))
        scope += critical
    code, name = DIAGNOSES[rng.randrange(len(DIAGNOSES))]
    stay = 0 if visit.startswith("outpatient") else rng.randint(4, 18)
    return {
        "institution": institution, "visit_type": visit, "admission_date": day - timedelta(days=stay), "discharge_date": day,
        "diagnosis_code": code, "diagnosis_name": name, "major_disease": code.startswith("C"),
        "total_cost": (scope * Decimal("1.12")).quantize(Decimal("0.01")), "policy_scope_cost": scope,
        "basic_paid": basic, "critical_paid": critical, "other_paid": Decimal("0.00"),
    }


def seed(ctx: dict) -> None:
    rng: random.Random = ctx.get("rng") or random.Random(42)  # noqa: S311 - demo data
    persons = ctx.get("person", {})
    if not persons:
        return
    users = ctx["users"]
    caseworker, reviewer = users[roles.CASEWORKER], users[roles.REVIEWER]
    institutions = _institutions(ctx)
    designated = [i for i in institutions if i.designated]
    by_district: dict[int, list[Institution]] = {}
    for inst in designated:
        by_district.setdefault(inst.district_id, []).append(inst)

    # One-stop settlement records: 1–2 per person over 2023–2024; most paid at the hospital with
    # the engine's figure, a few with a different figure (they show up as differences).
    touched: set[tuple[int, int]] = set()
    serial = 0
    for key, person in sorted(persons.items()):
        for _n in range(1 + (sum(map(ord, key)) % 2) + (1 if key in ("minimum_living", "multi_identity") else 0)):
            serial += 1
            no = f"DEMO-{serial:05d}"
            pool = by_district.get(person.hukou_district_id) or designated
            inst = pool[rng.randrange(len(pool))]
            if Bill.objects.filter(institution=inst, settlement_no=no).exists() or Bill.objects.filter(settlement_no=no).exists():
                continue
            day = date(rng.choice((2023, 2024)), rng.randint(1, 11), rng.randint(1, 28))
            visit = rng.choice(("inpatient", "inpatient", "outpatient", "outpatient_special"))
            burden = Decimal(rng.randint(800, 45000)) if visit != "outpatient" else Decimal(rng.randint(100, 2500))
            data = _bill_data(rng, inst, burden, day, visit)
            data.pop("institution")
            data["settlement_no"] = no
            services.bill_create(person=person, district_id=person.hukou_district_id, institution_id=inst.pk,
                                 data=data, by=caseworker)
            touched.add((person.pk, day.year))
    services.recompute_person_years(person_years=touched)
    # The hospital paid what the engine says, except every seventh bill (a difference to review).
    for index, bill in enumerate(Bill.objects.filter(settlement_no__startswith="DEMO-", status=BillStatus.RECORDED).order_by("pk")):
        if bill.total_assistance > 0 or index % 7 == 3:
            paid = bill.total_assistance if index % 7 != 3 else (bill.total_assistance * Decimal("0.9")).quantize(Decimal("0.01"))
            bill.hospital_assistance_paid = paid
            bill.status = BillStatus.HOSPITAL_PAID
            bill.save(update_fields=["hospital_assistance_paid", "status"])
    services.recompute_person_years(person_years=touched)

    # Manual claims in every state.
    haidian_worker = users.get("haidian_caseworker")
    to_pay = []
    for index, (key, state, burdens) in enumerate(CLAIMS, start=1):
        person = persons.get(key)
        if person is None or Claim.objects.filter(note__contains=_tag(index)).exists():
            continue
        worker = haidian_worker if key.startswith("haidian") and haidian_worker else caseworker
        pool = by_district.get(person.hukou_district_id) or designated
        bills = []
        for j, burden in enumerate(burdens):
            day = date(2024, rng.randint(1, 10), rng.randint(1, 28))
            data = _bill_data(rng, pool[rng.randrange(len(pool))], Decimal(burden), day, "inpatient" if j == 0 else "outpatient")
            data["settlement_no"] = f"DEMO-M{index:03d}-{j + 1}"
            bills.append(data)
        claim = services.claim_create(person=person, district=person.hukou_district, applied_on=date(2024, 11, 5),
                                      by=worker, bills=bills, payee_account="6217 0000 1234 5678",
                                      note=f"申请人自付后申请报销 {_tag(index)}")
        if state == "draft":
            continue
        services.claim_submit(claim=claim, by=worker)
        if state == "submitted":
            continue
        if state == "returned":
            services.claim_return(claim=claim, reviewer=reviewer, note="请补充出院小结及费用明细清单")
        elif state == "rejected":
            services.claim_reject(claim=claim, reviewer=reviewer, reason="unreferred", note="异地就医未办理转诊备案")
        else:
            services.claim_approve(claim=claim, reviewer=reviewer, note="材料齐全，同意")
            if state == "paid":
                to_pay.append(claim)
    if to_pay:
        batch = services.payment_batch_create(claims=to_pay, by=caseworker)
        services.payment_batch_mark_paid(batch=batch, reference="ICBC-2024-11-20-000381", by=caseworker)
