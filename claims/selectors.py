"""Reads of the claims app. Every list and detail queryset a view uses comes from here."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import QuerySet

from organizations.access import restrict, restrict_by_district, scope_for

from .models import (
    Bill,
    Claim,
    ClaimStatus,
    LedgerBucket,
    LedgerDraw,
    PaymentAdjustment,
    PaymentBatch,
    PersonYearLedger,
    SettlementImport,
)

__all__ = [
    "access_adjustments",
    "access_batches",
    "access_bills",
    "access_claims",
    "claims_for_list",
    "access_imports",
    "bills_for_list",
    "access_ledgers",
    "ledger_for_person",
]


def _restrict_district(qs: QuerySet, user, path: str = "district") -> QuerySet:
    """``organizations.access.restrict_by_district``: city level as ``district_id IN (the region's
    districts)``; on a million bills the planner then walks the keyset index instead of sorting the region."""
    return restrict_by_district(qs, user, district=path)


def access_bills(user) -> QuerySet[Bill]:
    """Bills in the user's scope (handling district), with what a list row shows."""
    qs = Bill.objects.select_related("person", "institution", "district", "claim")
    return _restrict_district(qs, user)


def access_claims(user) -> QuerySet[Claim]:
    qs = Claim.objects.select_related("person", "district", "created_by", "submitted_by", "reviewed_by", "payment_batch")
    return _restrict_district(qs, user)


# What a bill list row shows (claims_tags.bill_rows, claims.money.bill_shown) and what the keyset
# reads: 3 joins instead of 4 (not the district) and none of the bill's other ~30 columns.
# Planning the page query with every column of 5 tables took ≈ 9 ms at 100,000 bills (issue 20).
BILL_LIST_RELATED = ("person", "institution", "claim")
BILL_LIST_FIELDS = (
    "id", "settlement_no", "person_id", "institution_id", "claim_id", "visit_type", "discharge_date", "source",
    "status", "total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid", "computed_at", "total_assistance",
    "granted_amount", "hospital_assistance_paid",
    "person__name", "person__id_number", "institution__name", "claim__applied_on",
)


def bills_for_list(user) -> QuerySet[Bill]:
    """:func:`access_bills` (the same scope) narrowed to what the bill list shows."""
    return access_bills(user).select_related(None).select_related(*BILL_LIST_RELATED).only(*BILL_LIST_FIELDS)


# What a claim list row shows (claims_tags.claim_rows) and what the keyset and the filters read:
# the list joins 4 tables instead of access_claims' 6 and reads no text columns (note, decision
# note, payee account). Planning the 7-table join cost ≈ 6 ms per query (issue 20).
CLAIM_LIST_RELATED = ("person", "district", "created_by", "reviewed_by")
CLAIM_LIST_FIELDS = (
    "id", "status", "applied_on", "approved_amount", "district_id", "person_id", "created_by_id", "reviewed_by_id",
    "person__name", "person__id_number", "district__name",
    "created_by__username", "created_by__first_name", "created_by__last_name",
    "reviewed_by__username", "reviewed_by__first_name", "reviewed_by__last_name",
)


def claims_for_list(user) -> QuerySet[Claim]:
    """:func:`access_claims` (the same scope) narrowed to what the claim list shows."""
    return access_claims(user).select_related(None).select_related(*CLAIM_LIST_RELATED).only(*CLAIM_LIST_FIELDS)


def access_batches(user) -> QuerySet[PaymentBatch]:
    return restrict(PaymentBatch.objects.select_related("district", "created_by", "paid_by"), user, district="district")


def access_adjustments(user) -> QuerySet[PaymentAdjustment]:
    qs = PaymentAdjustment.objects.select_related("bill", "bill__person", "bill__institution", "bill__claim")
    return restrict(qs, user, district="bill__district")


def access_ledgers(user) -> QuerySet[PersonYearLedger]:
    """Ledgers of people whose household registration is in the user's scope."""
    return restrict(PersonYearLedger.objects.select_related("person"), user, district="person__hukou_district")


def access_imports(user) -> QuerySet[SettlementImport]:
    """District staff see their district's uploads; city level sees the region's and city-level ones."""
    qs = SettlementImport.objects.select_related("uploaded_by", "district")
    scope = scope_for(user)
    if scope.everything:
        return qs
    if scope.nothing:
        return qs.none()
    if scope.district_id is not None:
        return qs.filter(district_id=scope.district_id)
    return qs.filter(uploaded_by__staff_profile__agency__region_id=scope.region_id)


def claims_to_review(user) -> QuerySet[Claim]:
    return access_claims(user).filter(status=ClaimStatus.SUBMITTED).exclude(submitted_by=user).exclude(created_by=user)


def ledger_for_person(person, year: int | None = None) -> list[dict]:
    """年度累计 of a person: per year (newest first, or just ``year``) the buckets with used,
    cap and room, the deductible used and the tilted-assistance base.

    ``[{"year", "ledger", "buckets": [{"bucket", "cap", "used", "room", "clause"}], "draws": [LedgerDraw], ...}]``
    (``draws``: assistance paid outside the bills that the buckets' ``used`` includes, e.g. Ningbo
    relief on application, so a caseworker can see why ``used`` exceeds what the bills drew.)
    """
    qs = PersonYearLedger.objects.filter(person=person).order_by("-year")
    if year is not None:
        qs = qs.filter(year=year)
    ledgers = list(qs)
    buckets: dict[int, list[LedgerBucket]] = {}
    for b in LedgerBucket.objects.filter(ledger__in=ledgers).order_by("bucket"):
        buckets.setdefault(b.ledger_id, []).append(b)
    draws: dict[int, list[LedgerDraw]] = {}
    for d in LedgerDraw.objects.filter(ledger__in=ledgers).order_by("created_at", "pk"):
        draws.setdefault(d.ledger_id, []).append(d)
    out = []
    for ledger in ledgers:
        out.append({
            "year": ledger.year,
            "ledger": ledger,
            "deductible_used": ledger.deductible_used,
            "tilted_base": ledger.tilted_base,
            "total_assistance": ledger.total_assistance,
            "bills_counted": ledger.bills_counted,
            "updated_at": ledger.updated_at,
            "buckets": [
                {"bucket": b.bucket, "cap": b.cap, "used": b.used, "room": b.room, "clause": b.clause}
                for b in buckets.get(ledger.pk, [])
            ],
            "draws": draws.get(ledger.pk, []),
        })
    return out


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def money_or_none(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value not in (None, "") else None
    except ArithmeticError:
        return None
