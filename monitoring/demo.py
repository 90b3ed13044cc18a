"""Demo data for ``manage.py seed_demo``: one recalculation run and a few early warnings.

The other apps' demo data provide people, households and bills. So that the warning queue is
never empty in a demo, two households without any beneficiary identity and one 防止返贫监测
household get a large 2023 hospital stay (demo bills, settlement numbers ``YJ-DEMO-*``,
created once). Then one run (full the first time, incremental afterwards: idempotent).
"""
from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

logger = logging.getLogger(__name__)

DEMO_STAYS = [
    # (settlement no, burden after insurance: scope − basic)
    ("YJ-DEMO-1", Decimal("92000.00"), Decimal("30000.00")),
    ("YJ-DEMO-2", Decimal("68000.00"), Decimal("21000.00")),
    ("YJ-DEMO-3", Decimal("45000.00"), Decimal("18000.00")),
]


# Two families without any beneficiary identity (因病致贫 candidates), created once.
DEMO_FAMILIES = [
    ("110105", date(1968, 4, 12), 611, "刘建国", "朝阳区小关街道惠新东街"),
    ("110108", date(1975, 10, 3), 612, "黄秀英", "海淀区学院路街道石油大院"),
]


def _plain_families() -> None:
    from beneficiaries import idnumber
    from beneficiaries.models import Household, Person, Relation
    from organizations.models import District

    for code, born, seq, name, address in DEMO_FAMILIES:
        district = District.objects.filter(code=code).select_related("region").first()
        if district is None:
            continue
        number = idnumber.make(code, born, seq)
        if Person.objects.filter(id_number=number).exists():
            continue
        info = idnumber.parse(number)
        household = Household.objects.create(district=district, address=address)
        Person.objects.create(id_number=number, name=name, gender=info.gender, birth_date=info.birth_date,
                              hukou_district=district, insured_region=district.region, household=household,
                              relation=Relation.HEAD, address=address)


def _demo_households():
    """Two households where nobody holds a category, and one monitored (因病返贫) household."""
    from beneficiaries.models import Certification, Household

    _plain_families()
    certified = set(Certification.objects.values_list("person__household_id", flat=True))
    plain = list(Household.objects.exclude(pk__in=certified).filter(members__isnull=False).distinct().order_by("-pk")[:2])
    monitored = (Household.objects.filter(members__certifications__category__code__in=["monitored_rural", "marginal_family"])
                 .distinct().order_by("pk").first())
    return plain + ([monitored] if monitored is not None else [])


def seed(ctx: dict) -> None:
    from claims.models import Bill, BillStatus
    from organizations.models import Institution

    from . import services
    from .models import EarlyWarning, RecalcRun, RunTrigger, WarningStatus

    institution = Institution.objects.filter(designated=True).order_by("code").first()
    created_bills = False
    if institution is not None:
        for (number, scope, basic), household in zip(DEMO_STAYS, _demo_households(), strict=False):
            if Bill.objects.filter(institution=institution, settlement_no=number).exists():
                continue
            member = household.members.order_by("pk").first()
            created_bills = True
            Bill.objects.create(
                person=member, district=household.district, institution=institution, settlement_no=number,
                visit_type="inpatient", admission_date=date(2023, 8, 1), discharge_date=date(2023, 8, 20),
                diagnosis_code="C34.9", diagnosis_name="肺恶性肿瘤", total_cost=scope + Decimal("8000.00"),
                policy_scope_cost=scope, basic_paid=basic, critical_paid=Decimal("0.00"), other_paid=Decimal("0.00"),
                status=BillStatus.RECORDED,
            )
    # Idempotent: a second seed_demo run recalculates only if it added bills (or no run exists yet).
    if created_bills or not RecalcRun.objects.exists():
        run = services.run_synchronously(trigger=RunTrigger.COMMAND, by=ctx.get("users", {}).get("administrator"))
        logger.info("demo recalculation run #%s %s", run.pk, run.status)

    # One handled warning, so the queue shows the states (dismissed by the civil-affairs demo user).
    from organizations import roles

    certifier = ctx.get("users", {}).get(roles.CERTIFIER)
    if certifier is not None and not EarlyWarning.objects.filter(status=WarningStatus.DISMISSED).exists():
        warning = EarlyWarning.objects.filter(status=WarningStatus.OPEN).order_by("burden").first()
        if warning is not None and EarlyWarning.objects.filter(status=WarningStatus.OPEN).count() > 1:
            services.warning_dismiss(warning=warning, by=certifier,
                                     note="经入户核实，家庭另有稳定收入，医疗负担可承受，暂不纳入救助。")
