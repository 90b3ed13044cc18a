"""Model → engine data: the only place Django rows become the engine's plain dataclasses."""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beneficiaries.models import Certification, Person
    from claims.models import Bill

    from .engine.types import BillIn, CertificationIn, Flags, PersonIn

__all__ = ["bill_in", "certification_in", "flags_of", "person_in"]


def certification_in(certification: Certification) -> CertificationIn:
    from .engine.types import CertificationIn

    return CertificationIn(
        category=certification.category.code,
        valid_from=certification.valid_from,
        valid_until=certification.valid_until,
    )


def person_in(person: Person, *, certifications: Iterable[Certification] | None = None) -> PersonIn:
    """A person with ALL certifications, ended ones included (a stay may overlap an old identity).

    Pass ``certifications`` (with ``category`` loaded) to avoid a query per person in batch runs;
    a prefetched ``person.certifications`` is used as is.
    """
    from .engine.types import PersonIn

    if certifications is None:
        prefetched = getattr(person, "_prefetched_objects_cache", {})
        if "certifications" in prefetched:
            certifications = person.certifications.all()
        else:
            certifications = person.certifications.select_related("category").order_by("valid_from", "pk")
    return PersonIn(
        certifications=tuple(certification_in(c) for c in certifications),
        disability_grade=person.disability_grade,
    )


def flags_of(bill: Bill) -> Flags:
    """Designation comes from the institution (定点医药机构); the rest from the bill itself."""
    from .engine.types import Flags

    return Flags(
        designated=bool(bill.institution.designated),
        referral_compliant=bill.referral_compliant,
        in_province=bill.in_province,
        major_disease=bill.major_disease,
        rare_disease=bill.rare_disease,
        good_samaritan_injury=bill.good_samaritan_injury,
    )


def bill_in(bill: Bill) -> BillIn:
    """One settled bill; ``end`` (the settlement date) is the discharge date.

    ``hospital_assistance_paid`` (assistance the hospital already advanced in one-stop
    settlement) is NOT part of ``other_paid``: it is this same assistance, reconciled by claims.
    """
    from .engine.types import BillIn

    return BillIn(
        id=str(bill.pk),
        visit_type=bill.visit_type,
        start=bill.admission_date,
        end=bill.discharge_date,
        total_cost=bill.total_cost,
        policy_scope_cost=bill.policy_scope_cost,
        basic_paid=bill.basic_paid,
        critical_paid=bill.critical_paid,
        other_paid=bill.other_paid,
        flags=flags_of(bill),
    )
