"""Reads of the beneficiaries app; every queryset a view uses starts here (scope applied).

Scope rules (one per line in each ``access_*``):
- district/region scope comes from :func:`organizations.access.restrict` on the person's 户籍区县;
- agency certifiers (not medical security) see only certifications of categories their agency
  kind may certify; medical-security staff and auditors see every identity;
- agency certifiers see only the persons of their agency's categories (a certification, in force
  or ended, of a category their agency kind owns or co-certifies, or made by their agency), those
  they registered themselves (the person they are registering right now), those registered at an
  office and not yet certified by any agency (a pending request to certify; not the
  non-beneficiaries registered from settlement records), and those their agency is asked to
  certify (``access.requested_of_agency``: civil affairs' household assessments and early
  warnings). Households and household members
  follow the persons.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from organizations import roles
from organizations.access import agency_restricted, requested_of_agency, restrict, scope_for
from organizations.models import AgencyKind, Region, RegionStatistic

from . import idnumber
from .models import (
    Category,
    Certification,
    Household,
    IdRevealLog,
    ImportBatch,
    ImportStatus,
    Person,
    RegistrationSource,
)

PERSON_DISTRICT = "hukou_district"


# ------------------------------------------------------------------------------------------
# Roles (what a user may do here)
# ------------------------------------------------------------------------------------------


def is_medsec(user) -> bool:
    """Medical-security staff (经办/审核/审计) see every identity of a person."""
    return roles.has_role(user, roles.CASEWORKER, roles.REVIEWER, roles.AUDITOR)


def agency_of(user):
    """The user's agency (None for users without a staff profile)."""
    profile = getattr(user, "_staff_profile_cache", None)
    if profile is None:
        scope_for(user)  # loads and caches the profile
        profile = getattr(user, "_staff_profile_cache", None)
    return profile.agency if profile is not None else None


def can_register_person(user) -> bool:
    return roles.has_role(user, roles.CERTIFIER, roles.CASEWORKER)


def can_certify(user) -> bool:
    """Certifiers, and medical-security caseworkers for co-certified categories (医保会同认定)."""
    return agency_of(user) is not None and roles.has_role(user, roles.CERTIFIER, roles.CASEWORKER)


def can_reveal_id(user) -> bool:
    """PIPL minimum necessary: caseworker, reviewer and certifier may see a full number."""
    return roles.has_role(user, roles.CASEWORKER, roles.REVIEWER, roles.CERTIFIER)


def can_import(user) -> bool:
    return agency_of(user) is not None and roles.has_role(user, roles.CERTIFIER)


def certifiable_categories(agency_kind: str | None) -> QuerySet[Category]:
    """Categories an agency of this kind may certify (own or co-certified)."""
    if not agency_kind:
        return Category.objects.none()
    return Category.objects.filter(Q(agency_kind=agency_kind) | Q(co_agency_kind=agency_kind))


# ------------------------------------------------------------------------------------------
# Scoped querysets
# ------------------------------------------------------------------------------------------


def access_persons(user) -> QuerySet[Person]:
    """Persons whose 户籍区县 is in the user's scope; for an agency certifier, only those of the
    agency (:func:`agency_persons_q`)."""
    qs = Person.objects.select_related("hukou_district", "insured_region", "household")
    qs = restrict(qs, user, district=PERSON_DISTRICT)
    agency_q = agency_persons_q(user)
    return qs if agency_q is None else qs.filter(agency_q)


def agency_persons_q(user) -> Q | None:
    """None for users who see every person of their scope; for an agency certifier
    (``access.agency_restricted``) the persons of their agency's categories, certified by their
    agency, registered by them, or that their agency is asked to certify."""
    if not agency_restricted(user):
        return None
    scope = scope_for(user)
    own = Certification.objects.filter(person=OuterRef("pk")).filter(
        Q(category__agency_kind=scope.agency_kind) | Q(category__co_agency_kind=scope.agency_kind)
        | Q(agency_id=scope.agency_id))
    registered = Person.history.model.objects.filter(id=OuterRef("pk"), history_type="+", history_user_id=user.pk)
    # registered at an office and certified by no agency yet: a pending request to certify
    # (not the non-beneficiaries registered from settlement records, POLICY.md §9)
    pending = Q(registration_source=RegistrationSource.OFFICE) & ~Q(Exists(Certification.objects.filter(person=OuterRef("pk"))))
    q = Q(Exists(own)) | Q(Exists(registered)) | pending
    for requested in requested_of_agency(user):
        q |= Q(pk__in=requested)
    return q


def person_asked_to_certify(user, id_number: str) -> Person | None:
    """The person a request to certify names by full ID number (an agency system's push): within
    the user's district scope, whether or not the agency certified them before, because the request
    is what asks the agency to certify them. Gives the caller the person to certify, never a list."""
    qs = restrict(Person.objects.select_related("hukou_district"), user, district=PERSON_DISTRICT)
    return qs.filter(id_number=idnumber.normalise(id_number)).first()


def access_households(user) -> QuerySet[Household]:
    """Households in scope; for an agency certifier, those with a member they see."""
    qs = restrict(Household.objects.select_related("district"), user, district="district")
    if agency_restricted(user):
        qs = qs.filter(pk__in=access_persons(user).filter(household__isnull=False).values("household_id"))
    return qs


def access_certifications(user) -> QuerySet[Certification]:
    """Certifications of persons in scope; a certifier (non-medsec) sees own-kind categories only."""
    qs = Certification.objects.select_related("person", "category", "agency", "officer", "revoked_by")
    qs = restrict(qs, user, district=f"person__{PERSON_DISTRICT}")
    if user.is_superuser or is_medsec(user):
        return qs
    agency = agency_of(user)
    if agency is None:
        return qs.none()
    if agency.kind == AgencyKind.MEDICAL_SECURITY:
        return qs
    return qs.filter(Q(category__agency_kind=agency.kind) | Q(category__co_agency_kind=agency.kind))


def access_import_batches(user) -> QuerySet[ImportBatch]:
    """Batches of the user's own agency (superuser: all)."""
    qs = ImportBatch.objects.select_related("agency", "uploaded_by", "applied_by")
    if user.is_superuser:
        return qs
    agency = agency_of(user)
    if agency is None:
        return qs.none()
    return qs.filter(agency=agency)


def access_reveal_logs(user) -> QuerySet[IdRevealLog]:
    return restrict(IdRevealLog.objects.select_related("user", "person"), user, district=f"person__{PERSON_DISTRICT}")


# ------------------------------------------------------------------------------------------
# Searches and lists
# ------------------------------------------------------------------------------------------


def person_list(*, user, query: str = "", id_number: str = "") -> QuerySet[Person]:
    """Persons in scope, searched by full ID number (exact) or name (contains).

    The caller must never put ``id_number`` in a URL: views take it from a POST body.
    """
    today = timezone.localdate()
    active = access_certifications(user).filter(person=OuterRef("pk"), valid_from__lte=today).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=today)
    )
    qs = access_persons(user).annotate(has_active=Exists(active))
    if id_number:
        qs = qs.filter(id_number=idnumber.normalise(id_number))
    if query:
        qs = qs.filter(name__icontains=query.strip())
    return qs.prefetch_related(
        Prefetch(
            "certifications",
            queryset=access_certifications(user).filter(valid_from__lte=today).filter(
                Q(valid_until__isnull=True) | Q(valid_until__gte=today)
            ),
            to_attr="active_certifications",
        )
    ).order_by("-id")


def person_certifications(*, user, person: Person) -> list[Certification]:
    """The person's identity timeline visible to ``user`` (ended ones included), oldest first."""
    return list(access_certifications(user).filter(person=person).order_by("valid_from", "pk"))


def household_members(*, household: Household, user=None) -> list[Person]:
    """The members; with ``user``, only those in the user's scope (a household may join persons
    of two districts: the others are counted, never named — :func:`household_members_outside`)."""
    qs = household.members.select_related("hukou_district").order_by("relation", "id")
    if user is not None:
        qs = qs.filter(pk__in=access_persons(user).filter(household=household).values("pk"))
    return list(qs)


def household_members_outside(*, household: Household, user, shown: int) -> int:
    """How many members of ``household`` are not in ``user``'s scope (``shown`` were)."""
    return household.members.count() - shown


def certifications_due(*, user, within_days: int = 30) -> QuerySet[Certification]:
    """即将到期的认定: in force today, ending within ``within_days``."""
    today = timezone.localdate()
    horizon = today + timedelta(days=within_days)
    return access_certifications(user).filter(valid_until__gte=today, valid_until__lte=horizon)


# ------------------------------------------------------------------------------------------
# Best benefit (就高不就低) for medical-security staff
# ------------------------------------------------------------------------------------------

SAMPLE_BURDEN = Decimal("10000.00")


@dataclass(frozen=True)
class IdentityBenefit:
    certification: Certification
    tier: str | None
    rate: Decimal | None
    sample_assistance: Decimal
    best: bool = False


def identity_benefits(*, person: Person, certifications: list[Certification], on: date | None = None) -> tuple[list[IdentityBenefit], object | None]:
    """Each identity in force on ``on`` with what it pays on a sample inpatient bill.

    Uses the policy in force for the person's insured region and the real engine: each identity
    is assessed alone on an inpatient bill with a burden of 10,000 (fresh year, no caps used);
    the highest total is the identity that currently gives the best benefit (POLICY.md §2
    就高不就低). Returns (rows, policy); policy None means no usable policy in force.
    """
    from policies.engine import engine
    from policies.engine.types import BillIn, CertificationIn, PersonIn, YearState
    from policies.selectors import policy_in_force, region_stats, spec_of

    on = on or timezone.localdate()
    active = [c for c in certifications if c.is_active_on(on)]
    policy = policy_in_force(region=person.insured_region_id, on=on)
    if policy is None or not active:
        return [IdentityBenefit(c, None, None, Decimal("0.00")) for c in active], policy
    spec = spec_of(policy)
    stats = region_stats(person.insured_region_id)
    bill = BillIn(id="sample", visit_type="inpatient", start=on, end=on, total_cost=SAMPLE_BURDEN,
                  policy_scope_cost=SAMPLE_BURDEN, basic_paid=Decimal("0.00"), critical_paid=Decimal("0.00"),
                  other_paid=Decimal("0.00"))
    rows = []
    for cert in active:
        one = PersonIn(certifications=(CertificationIn(cert.category.code, cert.valid_from, cert.valid_until),),
                       disability_grade=person.disability_grade)
        result = engine.assess_bill(spec, one, bill, YearState(year=on.year), stats)
        rank = spec.category_plan.get(cert.category.code, (10**9,))[0]
        rows.append((result.total, -rank, cert, result))
    best_key = max(((r[0], r[1]) for r in rows), default=None)
    out = []
    for total, neg_rank, cert, result in rows:
        out.append(IdentityBenefit(
            certification=cert, tier=result.tier, rate=result.rate, sample_assistance=total,
            best=total > 0 and (total, neg_rank) == best_key,
        ))
    return out, policy


# ------------------------------------------------------------------------------------------
# Premium subsidy roster (资助参保名单, POLICY.md §5)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubsidyRow:
    person_id: int
    name: str
    masked_id_number: str
    district: str
    category: str  # code
    category_name: str
    kind: str  # full | fraction
    share: Decimal
    contribution: Decimal | None
    amount: Decimal | None
    qualifying_date: date
    clause: str  # the subsidy rule's clause
    # Set only when the winning identity was approved within the year under a policy with a timing
    # rule (Ningbo: covered from the next month); None = no timing rule applied (a continuing
    # beneficiary, or a policy without one such as Wuxi's): the subsidy is for the whole year.
    covered_from: date | None = None
    timing_clause: str = ""  # the timing rule's clause, when it applied (covered_from, or an identity deferred to next year)

    @property
    def clauses(self) -> str:
        """The rule's clause and, when it applied, the timing clause (one cell on screen and in exports)."""
        return "；".join(c for c in (self.clause, self.timing_clause) if c)


def _subsidy_key(result) -> tuple[Decimal, bool]:
    """Highest wins (§5): the larger share, then a full subsidy before a 100% fraction."""
    return (result.share, result.kind == "full")


def premium_subsidy_roster(*, user, region: Region, year: int) -> list[SubsidyRow]:
    """Per person in scope insured in ``region``: the premium subsidy for ``year``.

    A person qualifies if any certification is in force at some point of the year; the subsidy
    is evaluated by the engine (``premium_subsidy``) under the policy in force on each date the
    person's identities change within the year (1 January and each valid_from in the year), and
    the highest share wins (POLICY.md §5 "highest wins"). The contribution is
    RegionStatistic.resident_contribution of ``year``; when not recorded the amount is None.

    Timing (§5, Ningbo 三(一)): an identity approved within ``year`` (its valid_from) is passed to
    the engine's ``subsidy_timing`` under the policy in force on its approval date, with
    "already paid" = ``Person.contribution_paid_year >= year``. When the engine puts its subsidy in
    a later year, that identity does not count on any date of ``year``: an identity held since
    before the year still gives its own subsidy (kept from 1 January), so "highest wins" is taken
    only over what the timing rule allows. When the winning identity was approved within the year
    under a timing rule, ``covered_from`` is the engine's date (Ningbo: the 1st of the next month).
    Reused by the reports app for yearly totals.
    """
    from policies.engine import engine
    from policies.engine.types import CertificationIn, PersonIn
    from policies.selectors import policy_in_force, spec_of

    start, end = date(year, 1, 1), date(year, 12, 31)
    stat = RegionStatistic.objects.filter(region=region, year=year).first()
    contribution = stat.resident_contribution if stat is not None else None
    # Plain rows, not model instances (issue 20: at 200,000 people the report built ~490,000
    # instances and decrypted every name and ID number, 18-20 s a request); names and ID numbers
    # are read, and decrypted, only for the people who get a subsidy.
    certs = (
        access_certifications(user)
        .filter(person__insured_region=region, valid_from__lte=end)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=start))
        .order_by("person_id", "valid_from", "pk")
        .values_list("pk", "person_id", "category__code", "valid_from", "valid_until",
                     "person__contribution_paid_year", "person__disability_grade", "person__hukou_district__name")
    )
    by_person: dict[int, list[_Cert]] = {}
    people: dict[int, _PersonFacts] = {}
    for row in certs.iterator(chunk_size=5000):
        cert = _Cert(*row[:5])
        if cert.person_id not in by_person:
            by_person[cert.person_id] = []
            people[cert.person_id] = _PersonFacts(cert.person_id, *row[5:])
        by_person[cert.person_id].append(cert)
    categories = {c.code: c.name for c in Category.objects.all()}
    specs: dict[date, object] = {}

    def spec_on(day: date):
        if day not in specs:
            policy = policy_in_force(region=region, on=day)
            specs[day] = spec_of(policy) if policy is not None else None
        return specs[day]

    def highest_subsidy(counted: list[Certification], disability_grade: int | None):
        """(result, day) of the highest subsidy over 1 January and each valid_from in the year
        (ties: the earliest day), or None."""
        if not counted:
            return None
        person_in = PersonIn(
            certifications=tuple(CertificationIn(c.code, c.valid_from, c.valid_until) for c in counted),
            disability_grade=disability_grade,
        )
        best = None
        for day in sorted({start} | {c.valid_from for c in counted if start <= c.valid_from <= end}):
            spec = spec_on(day)
            if spec is None:
                continue
            result = engine.premium_subsidy(spec, person_in, day, contribution)
            if result.kind is None:
                continue
            if best is None or _subsidy_key(result) > _subsidy_key(best[0]):
                best = (result, day)
        return best

    rows: list[SubsidyRow] = []
    for person_id, person_certs in by_person.items():
        person = people[person_id]
        already_paid = person.contribution_paid_year is not None and person.contribution_paid_year >= year
        # Identities approved within the year and what the timing rule of the policy in force on
        # their approval date says about them (None: no timing rule).
        timings = {}
        for c in person_certs:
            if start <= c.valid_from <= end:
                approval_spec = spec_on(c.valid_from)
                if approval_spec is not None and approval_spec.premium_subsidies.timing is not None:
                    timings[c.pk] = engine.subsidy_timing(approval_spec, c.valid_from, already_paid)
        deferred = {pk for pk, t in timings.items() if t.subsidised_year > year}
        counted = [c for c in person_certs if c.pk not in deferred]
        best = highest_subsidy(counted, person.disability_grade)
        if best is None:
            continue
        result, day = best
        # The identity that gave the winning subsidy: certifications of one person and category
        # never overlap, so it is the latest of that category started by ``day`` (the engine may
        # extend an ended one to the month's end, hence not ``is_active_on``).
        winner = max((c for c in counted if c.code == result.category and c.valid_from <= day),
                     key=lambda c: c.valid_from, default=None)
        timing = timings.get(winner.pk) if winner is not None else None
        timing_clause = (timing.clause or "") if timing is not None else ""
        if deferred and not timing_clause:
            # Cite the rule when it lowered the subsidy (a deferred identity would have won).
            unrestricted = highest_subsidy(person_certs, person.disability_grade)
            if unrestricted is not None and _subsidy_key(unrestricted[0]) > _subsidy_key(result):
                timing_clause = timings[min(deferred)].clause or ""
        rows.append(SubsidyRow(
            person_id=person.pk, name="", masked_id_number="",
            district=person.district or "", category=result.category or "",
            category_name=categories.get(result.category or "", result.category or ""), kind=result.kind,
            share=result.share, contribution=contribution, amount=result.amount, qualifying_date=day,
            clause=result.clause or "", covered_from=timing.covered_from if timing is not None else None,
            timing_clause=timing_clause,
        ))
    # names and masked ID numbers of the people in the roster only
    ids = [r.person_id for r in rows]
    shown: dict[int, tuple[str, str]] = {}
    for at in range(0, len(ids), 5000):
        for p in Person.objects.filter(pk__in=ids[at:at + 5000]).order_by().only("pk", "name", "id_number"):
            shown[p.pk] = (p.name, p.masked_id_number)
    rows = [replace(r, name=shown[r.person_id][0], masked_id_number=shown[r.person_id][1]) for r in rows]
    rows.sort(key=lambda r: (r.district, r.person_id))
    return rows


class _Cert(NamedTuple):
    pk: int
    person_id: int
    code: str
    valid_from: date
    valid_until: date | None


class _PersonFacts(NamedTuple):
    pk: int
    contribution_paid_year: int | None
    disability_grade: int | None
    district: str | None


# ------------------------------------------------------------------------------------------
# Dashboard
# ------------------------------------------------------------------------------------------


def pending_import_batches(*, user) -> QuerySet[ImportBatch]:
    return access_import_batches(user).filter(status=ImportStatus.PREVIEWED)
