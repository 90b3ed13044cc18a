"""Demo letters: one for every decided claim and application that has none yet (idempotent).

Claims and applications issue their letters themselves after commit; this only fills gaps
(e.g. decisions seeded before the reports app existed) and, when there are no decisions at all,
issues three sample letters so the screens have something to show. Capped to stay fast.
"""
from __future__ import annotations

from decimal import Decimal

from django.db.models import Exists, OuterRef

from organizations import roles

from .models import Letter, LetterKind, LetterOffice
from .services import letter_issue, letter_issue_from_content

# 复议机关 and court of each demo office (POLICY.md §7, 2026-12): the district government and
# the district's basic people's court.
OFFICES = {
    "110105": ("北京市朝阳区人民政府", "北京市朝阳区人民法院"),
    "110108": ("北京市海淀区人民政府", "北京市海淀区人民法院"),
    "110101": ("北京市东城区人民政府", "北京市东城区人民法院"),
}


def seed_offices(ctx: dict) -> None:
    for code, (body, court) in OFFICES.items():
        district = ctx.get("district", {}).get(code)
        if district is not None:
            LetterOffice.objects.update_or_create(district=district, defaults={"reconsideration_body": body, "court": court})

MAX_LETTERS = 25


def seed(ctx: dict) -> None:
    seed_offices(ctx)
    by = ctx["users"].get(roles.REVIEWER) or next(iter(ctx["users"].values()))
    issued = 0
    try:
        from claims.models import Claim, ClaimStatus

        has_letter = Letter.objects.filter(claim=OuterRef("pk"))
        claims = Claim.objects.filter(status__in=[ClaimStatus.APPROVED, ClaimStatus.PAID, ClaimStatus.REJECTED]).exclude(Exists(has_letter))
        for claim in claims.order_by("reviewed_at", "pk")[:MAX_LETTERS]:
            kind = LetterKind.CLAIM_REJECTED if claim.status == ClaimStatus.REJECTED else LetterKind.CLAIM_APPROVED
            letter_issue(kind=kind, claim=claim, by=claim.reviewed_by or by)
            issued += 1
    except ImportError:
        pass
    try:
        from applications.models import Application, Status

        has_letter = Letter.objects.filter(application=OuterRef("pk"))
        apps = Application.objects.filter(status__in=[Status.APPROVED, Status.REJECTED]).exclude(Exists(has_letter))
        for application in apps.order_by("decided_at", "pk")[: max(0, MAX_LETTERS - issued)]:
            kind = LetterKind.APPLICATION_APPROVED if application.status == Status.APPROVED else LetterKind.APPLICATION_REJECTED
            letter_issue(kind=kind, application=application, by=application.decided_by or by)
            issued += 1
    except ImportError:
        pass
    if Letter.objects.exists():
        return
    from beneficiaries.models import Person

    district = ctx["districts"][0]
    people = list(Person.objects.filter(hukou_district=district).order_by("pk")[:3])
    for i, person in enumerate(people):
        approved = i != 2
        amount = [Decimal("16409.02"), Decimal("1680.32"), Decimal("0.00")][i]
        letter_issue_from_content(
            kind=LetterKind.CLAIM_APPROVED if approved else LetterKind.CLAIM_REJECTED, district=district, by=by, person=person,
            content={
                "recipient_name": person.name, "recipient_masked_id": person.masked_id_number, "district_name": district.name,
                "decision": "approved" if approved else "rejected", "amount": amount,
                "subject": "住院费用的医疗救助申请（演示）",
                "bills": [{"settlement_no": f"DEMO{i:05d}", "institution": "演示医院", "visit_type": "住院",
                           "admission_date": "2024-03-01", "discharge_date": "2024-03-10", "total_cost": "30000.00",
                           "burden": "20000.00", "assistance": str(amount) if approved else None}],
                "explanation": [{"label": "政策范围内个人负担", "value": "20000.00", "clause": "京医保发〔2022〕37号 五(一)"}],
                "clauses": ["京医保发〔2022〕37号 五(二)"], "reason": "" if approved else "非定点医药机构就医",
                "payment_route": "转账至本人社会保障卡金融账户", "policy_document": "京医保发〔2022〕37号",
            },
        )
