"""The one definition of money (一个口径): what a bill's burden is, what assistance on it was
*suggested*, *granted* and *paid*, what relief on application was granted, and which statuses
count for what. Every app reads money through this module; none keeps its own status filter.

The table of statuses is in ``docs/money.md``; the sets below are that table.

- **burden** (政策范围内个人负担): ``policy_scope_cost − basic − critical − other``, floored at 0.
- **suggested**: the engine's figure on a bill of a pending claim (draft, submitted, returned).
  Nothing was decided or paid on it: it counts for nothing but the reviewer's screen.
- **granted** (已核定): the figure decided on a bill: a one-stop bill's (the hospital settles it
  at discharge under the rule), an approved or paid claim's bill (the approval). Rejected bills
  and pending bills have granted 0.
- **paid** (已支付): what left the fund for the bill: ``hospital_assistance_paid`` of a one-stop
  bill paid at the hospital, ``paid_amount`` of a bill of a paid claim; None otherwise.
- **relief granted**: the relief of an approved application (依申请救助).
- **relief paid**: the ``paid_amount`` of its ``applications.ReliefPayment``, frozen when the
  payment batch it is in was marked paid; None while it is not paid.
- **left after granted** (救助后剩余负担): burden − what was granted (or paid, if the hospital
  advanced more: the same money, never both), floored at 0. Relief on application (京 六(三),
  甬 三(二)1) and early warnings (因病致贫/返贫) count this; a bill of a rejected, returned or
  pending claim contributes its whole burden (POLICY.md §9).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Case, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest

from .models import ZERO, BillSource, BillStatus, ClaimStatus

__all__ = [
    "CAP_STATUSES",
    "GRANTED_CLAIM_STATUSES",
    "GRANTED_STATUSES",
    "PAID_STATUSES",
    "PENDING_STATUSES",
    "RELIEF_GRANTED_STATUSES",
    "RELIEF_STATUSES",
    "REPORT_STATUSES",
    "WARNING_STATUSES",
    "bill_burden",
    "bill_granted",
    "bill_left_after_granted",
    "bill_paid",
    "bill_suggested",
    "bills_counted_for_caps",
    "bills_granted",
    "burden_expr",
    "granted_expr",
    "left_after_granted_expr",
    "relief_granted",
    "relief_granted_of",
    "relief_paid",
    "relief_paid_of",
]

MONEY_FIELD = DecimalField(max_digits=16, decimal_places=2)

# Bills on the person-year ledger (年度累计): their figures use up cap room.
CAP_STATUSES: frozenset[str] = frozenset(
    {BillStatus.RECORDED, BillStatus.HOSPITAL_PAID, BillStatus.APPROVED, BillStatus.PAID})
# Bills whose figure was decided (granted): the same set. Named apart because it is a different
# question ("what was decided?" vs "what uses room?"), answered the same way today.
GRANTED_STATUSES: frozenset[str] = CAP_STATUSES
# Bills with money out of the fund.
PAID_STATUSES: frozenset[str] = frozenset({BillStatus.HOSPITAL_PAID, BillStatus.PAID})
# Bills with a suggestion only (nothing decided, nothing paid).
PENDING_STATUSES: frozenset[str] = frozenset({BillStatus.DRAFT, BillStatus.SUBMITTED, BillStatus.RETURNED})
# Whose granted assistance relief on application, warnings and reports subtract / sum. Every
# other bill (rejected, pending) counts with its whole burden and no assistance.
RELIEF_STATUSES: frozenset[str] = GRANTED_STATUSES
WARNING_STATUSES: frozenset[str] = GRANTED_STATUSES
REPORT_STATUSES: frozenset[str] = GRANTED_STATUSES
# Bills a recomputation leaves alone (a rejected claim's bills keep what they had).
FROZEN_STATUSES: frozenset[str] = frozenset({BillStatus.REJECTED})
# Claims whose decision granted money.
GRANTED_CLAIM_STATUSES: frozenset[str] = frozenset({ClaimStatus.APPROVED, ClaimStatus.PAID})
# Applications (依申请救助) whose relief was granted.
RELIEF_GRANTED_STATUSES: frozenset[str] = frozenset({"approved"})


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


# --------------------------------------------------------------------------------------------
# One bill (a model instance, or anything with the same attributes)
# --------------------------------------------------------------------------------------------


def burden_of(*, policy_scope_cost: Decimal, basic_paid: Decimal, critical_paid: Decimal,
              other_paid: Decimal) -> Decimal:
    """政策范围内个人负担 after basic, critical-illness and other payments (floored at 0)."""
    return max(ZERO, policy_scope_cost - (basic_paid or ZERO) - (critical_paid or ZERO) - (other_paid or ZERO))


def bill_burden(bill: Any) -> Decimal:
    return burden_of(policy_scope_cost=bill.policy_scope_cost, basic_paid=bill.basic_paid,
                     critical_paid=bill.critical_paid, other_paid=bill.other_paid)


def bill_suggested(bill: Any) -> Decimal | None:
    """The engine's figure on a pending bill; None for a bill that is not pending."""
    return bill.total_assistance if bill.status in PENDING_STATUSES else None


def bill_granted(bill: Any) -> Decimal:
    """What was decided on the bill (0 for rejected and pending bills): a claim's bill keeps the
    amount its approval (or an approved correction) granted, whatever a later recomputation found;
    a one-stop bill's grant is its computed figure (the rule applied at the hospital)."""
    if bill.status not in GRANTED_STATUSES:
        return ZERO
    granted = getattr(bill, "granted_amount", None)
    return granted if granted is not None else (bill.total_assistance or ZERO)


def bill_shown(bill: Any) -> Decimal:
    """The one assistance figure a row shows for a bill (bill list, ledger, claim, API): the grant
    once decided (``bill_granted``: a claim's approval or correction, a one-stop figure, capped
    where relief on application already covered the burden), else the engine's figure (a pending
    suggestion, or what a rejected claim was refused). The computed figure is shown beside it
    where the two differ."""
    if bill.status in GRANTED_STATUSES:
        return bill_granted(bill)
    return bill.total_assistance or ZERO


def bill_paid(bill: Any) -> Decimal | None:
    """What left the fund for the bill, or None while nothing was paid."""
    if bill.status == BillStatus.HOSPITAL_PAID:
        return bill.hospital_assistance_paid
    if bill.status == BillStatus.PAID:
        return bill.paid_amount
    return None


def bill_relief_already(bill: Any) -> Decimal:
    """Relief already had on a bill (六(三) "各种救助"): what was granted, or what the hospital
    advanced if larger (the same money, so never both). 0 for rejected and pending bills."""
    if bill.status not in RELIEF_STATUSES:
        return ZERO
    return max(bill_granted(bill), bill_paid(bill) or ZERO)


def bill_left_after_granted(bill: Any) -> Decimal:
    """Burden left after what was granted: the whole burden of a rejected or pending bill."""
    return max(ZERO, bill_burden(bill) - bill_relief_already(bill))


# --------------------------------------------------------------------------------------------
# Querysets (set-based: reports, warnings, exports)
# --------------------------------------------------------------------------------------------


def burden_expr(prefix: str = "") -> Greatest:
    """SQL: the bill's burden (``prefix``: the path to the bill, e.g. ``"bills__"``)."""
    p = prefix
    return Greatest(F(f"{p}policy_scope_cost") - F(f"{p}basic_paid") - F(f"{p}critical_paid") - F(f"{p}other_paid"),
                    Value(ZERO), output_field=MONEY_FIELD)


def granted_expr(prefix: str = "") -> Case:
    """SQL: the bill's granted assistance (0 unless its status is in :data:`GRANTED_STATUSES`)."""
    p = prefix
    return Case(When(**{f"{p}status__in": sorted(GRANTED_STATUSES)},
                     then=Coalesce(F(f"{p}granted_amount"), F(f"{p}total_assistance"))),
                default=Value(ZERO), output_field=MONEY_FIELD)


def paid_expr(prefix: str = "") -> Case:
    """SQL: :func:`bill_paid` (0 where nothing was paid)."""
    p = prefix
    return Case(
        When(**{f"{p}status": BillStatus.HOSPITAL_PAID}, then=Coalesce(F(f"{p}hospital_assistance_paid"), Value(ZERO))),
        When(**{f"{p}status": BillStatus.PAID}, then=Coalesce(F(f"{p}paid_amount"), Value(ZERO))),
        default=Value(ZERO), output_field=MONEY_FIELD)


def relief_already_expr(prefix: str = "") -> Case:
    """SQL: :func:`bill_relief_already`."""
    p = prefix
    return Case(
        When(**{f"{p}status__in": sorted(RELIEF_STATUSES)},
             then=Greatest(Coalesce(F(f"{p}granted_amount"), F(f"{p}total_assistance")), paid_expr(prefix),
                           output_field=MONEY_FIELD)),
        default=Value(ZERO), output_field=MONEY_FIELD)


def left_after_granted_expr(prefix: str = "") -> Greatest:
    """SQL: :func:`bill_left_after_granted`."""
    return Greatest(burden_expr(prefix) - relief_already_expr(prefix), Value(ZERO), output_field=MONEY_FIELD)


def bills_counted_for_caps(qs: QuerySet) -> QuerySet:
    """Bills on the person-year ledger (:data:`CAP_STATUSES`)."""
    return qs.filter(status__in=sorted(CAP_STATUSES))


def bills_granted(qs: QuerySet) -> QuerySet:
    """Bills with a granted figure (:data:`GRANTED_STATUSES`)."""
    return qs.filter(status__in=sorted(GRANTED_STATUSES))


def bills_for_report(qs: QuerySet) -> QuerySet:
    """Bills a fund report sums (:data:`REPORT_STATUSES`) with a non-zero granted figure."""
    return qs.filter(status__in=sorted(REPORT_STATUSES)).alias(money_granted=granted_expr()).filter(money_granted__gt=0)


def bills_recomputed(qs: QuerySet) -> QuerySet:
    """Bills a recomputation reads: every bill but a rejected one (which keeps what it had)."""
    return qs.exclude(status__in=sorted(FROZEN_STATUSES))


def bills_advanced_by_hospital(qs: QuerySet) -> QuerySet:
    """One-stop bills whose assistance the hospital advanced (status ``hospital_paid``): what a
    hospital's monthly statement reconciles, advanced against granted (``claims.reconciliation``)."""
    return qs.filter(source=BillSource.ONE_STOP, status=BillStatus.HOSPITAL_PAID)


def bills_pending(qs: QuerySet) -> QuerySet:
    return qs.filter(status__in=sorted(PENDING_STATUSES))


def claims_granted(qs: QuerySet) -> QuerySet:
    return qs.filter(status__in=sorted(GRANTED_CLAIM_STATUSES))


def claims_payable(qs: QuerySet) -> QuerySet:
    """Approved claims not yet in a payment batch (待支付)."""
    return qs.filter(status=ClaimStatus.APPROVED, payment_batch__isnull=True)


def is_bill_counted(status: str) -> bool:
    return status in CAP_STATUSES


def is_claim_granted(status: str) -> bool:
    return status in GRANTED_CLAIM_STATUSES


# --------------------------------------------------------------------------------------------
# Relief on application (依申请救助)
# --------------------------------------------------------------------------------------------


def applications_granted(qs: QuerySet) -> QuerySet:
    """Applications whose relief was granted (approved)."""
    return qs.filter(status__in=sorted(RELIEF_GRANTED_STATUSES), relief__gt=0)


def relief_granted_of(application: Any) -> Decimal:
    """The relief granted on one application (0 unless approved)."""
    if application.status in RELIEF_GRANTED_STATUSES and application.relief is not None:
        return application.relief
    return ZERO


def relief_granted(qs: QuerySet) -> Decimal:
    """Σ relief granted over applications ``qs``."""
    total = applications_granted(qs).aggregate(s=Sum("relief"))["s"]
    return _cents(total or ZERO)


def applications_payable(qs: QuerySet) -> QuerySet:
    """Approved applications with relief granted and not yet in a payment batch (待支付)."""
    return applications_granted(qs).filter(relief_payment__isnull=True)


def applications_paid(qs: QuerySet) -> QuerySet:
    """Applications whose relief was paid (its payment batch marked paid)."""
    return applications_granted(qs).filter(relief_payment__paid_amount__isnull=False)


def relief_paid_of(application: Any) -> Decimal | None:
    """What left the fund for one application's relief, or None while nothing was paid."""
    if application.status not in RELIEF_GRANTED_STATUSES:
        return None
    try:
        payment = application.relief_payment
    except ObjectDoesNotExist:
        return None
    return payment.paid_amount


def relief_paid(qs: QuerySet) -> Decimal:
    """Σ relief paid over applications ``qs``."""
    total = applications_paid(qs).aggregate(s=Sum("relief_payment__paid_amount"))["s"]
    return _cents(total or ZERO)


def is_application_granted(status: str) -> bool:
    return status in RELIEF_GRANTED_STATUSES


def status_q(field: str, statuses: frozenset[str]) -> Q:
    return Q(**{f"{field}__in": sorted(statuses)})
