"""对账单: per designated institution and month, the assistance it advanced under one-stop
settlement (``hospital_assistance_paid``, the platform's maf_pay) against what the product
granted (``claims.money.granted_expr``: the computed ``total_assistance``, or less where relief on
application already covered the burden, 京 六(三)), bill by bill, with the totals and the difference.

Only one-stop bills the hospital settled count (status HOSPITAL_PAID; cancelled/冲正 bills are
REJECTED and left out). A positive difference is owed to the hospital (补发), a negative one is
an overpayment to recover (追回) — the same figures the recomputation records as payment
adjustments (claims.models.PaymentAdjustment), listed here so the statement and the
"differences to review" screen never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from . import money
from .models import ZERO


@dataclass
class StatementLine:
    bill_id: int
    settlement_no: str
    person_name: str
    discharge_date: date
    advanced: Decimal
    computed: Decimal

    @property
    def difference(self) -> Decimal:
        return self.computed - self.advanced


@dataclass
class Statement:
    institution_id: int
    institution_name: str
    month: date
    lines: list[StatementLine] = field(default_factory=list)

    @property
    def advanced(self) -> Decimal:
        return sum((line.advanced for line in self.lines), ZERO)

    @property
    def computed(self) -> Decimal:
        return sum((line.computed for line in self.lines), ZERO)

    @property
    def difference(self) -> Decimal:
        return self.computed - self.advanced

    @property
    def differing(self) -> list[StatementLine]:
        return [line for line in self.lines if line.difference]


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, following


def statement(*, bills, institution, month: date) -> Statement:
    """``bills``: an already-scoped queryset (claims.selectors.access_bills)."""
    first, following = month_bounds(month)
    qs = (money.bills_advanced_by_hospital(bills).filter(institution=institution, discharge_date__gte=first,
                                                          discharge_date__lt=following)
          .order_by("discharge_date", "id")
          .annotate(money_granted=money.granted_expr())
          .values_list("pk", "settlement_no", "person__name", "discharge_date", "hospital_assistance_paid",
                       "money_granted"))
    result = Statement(institution.pk, institution.name, first)
    for pk, no, name, day, advanced, computed in qs:
        result.lines.append(StatementLine(pk, no, name, day, advanced or ZERO, computed))
    return result
