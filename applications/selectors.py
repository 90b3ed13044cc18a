"""Reads of the applications app. Every queryset a view uses comes from an ``access_*`` function.

Scope rules, one per line below:
- district scope through :func:`organizations.access.restrict` on ``district`` (another district's
  user gets 404);
- civil-affairs certifiers see only the applications sent to them for the household assessment
  (not those still at the medical-security window), and never the bill lists (see
  :func:`can_see_bills`);
- other agencies' certifiers (veterans, trade union, ...) see no applications.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from beneficiaries.models import Household, Person
from claims.models import Bill
from organizations import roles
from organizations.access import restrict, restrict_by_district, scope_for
from organizations.models import AgencyKind

from .models import Application, ApplicationDocument, Status


def _is_certifier_only(user) -> bool:
    return (not user.is_superuser and roles.has_role(user, roles.CERTIFIER)
            and not roles.has_role(user, roles.CASEWORKER, roles.REVIEWER, roles.AUDITOR))


def access_applications(user) -> QuerySet[Application]:
    qs = Application.objects.select_related("household", "applicant", "district", "policy")
    # city level as ``district_id IN (…)``: no join on the region (the list's keyset index, the badges)
    qs = restrict_by_district(qs, user, district="district")
    if _is_certifier_only(user):
        if scope_for(user).agency_kind != AgencyKind.CIVIL_AFFAIRS:
            return qs.none()
        qs = qs.exclude(status=Status.RECEIVED)
    return qs


def persons_requested_of_agency(user, scope):
    """Registered in ``organizations.access`` (``requested_of_agency``): the members of the
    households of the applications sent to a civil-affairs certifier for the household assessment
    (家庭经济状况核对 certifies the patient): civil affairs is asked to certify them."""
    if scope.agency_kind != AgencyKind.CIVIL_AFFAIRS:
        return None
    applications = access_applications(user)
    return Person.objects.filter(Q(household__relief_applications__in=applications)
                                 | Q(relief_applications__in=applications)).values("pk")


def access_documents(user) -> QuerySet[ApplicationDocument]:
    return ApplicationDocument.objects.filter(application__in=access_applications(user)).select_related("application")


def can_see_bills(user) -> bool:
    """Bills are medical-security records: civil-affairs certifiers see the assessment only."""
    return user.is_superuser or roles.has_role(user, roles.CASEWORKER, roles.REVIEWER, roles.AUDITOR)


def access_households(user) -> QuerySet[Household]:
    return restrict(Household.objects.all(), user, district="district")


def access_persons(user) -> QuerySet[Person]:
    return restrict(Person.objects.select_related("household"), user, district="hukou_district")


def household_members(household: Household) -> list[Person]:
    """Co-resident members with their certifications (category loaded)."""
    return list(household.members.all().prefetch_related("certifications__category").order_by("id"))


def household_bills(*, household: Household, start: date, end: date) -> QuerySet[Bill]:
    """The household members' bills settled (discharge date) within ``[start, end]``."""
    return (
        Bill.objects.filter(person__household=household, discharge_date__gte=start, discharge_date__lte=end)
        .select_related("person", "institution")
        .order_by("person_id", "discharge_date", "id")
    )


def open_warnings(user) -> QuerySet:
    """Open early warnings (预警, POLICY.md §6) in the user's scope, to turn into applications."""
    try:
        from monitoring.models import EarlyWarning
    except ImportError:  # pragma: no cover - monitoring ships it
        return Household.objects.none()
    # A household that already applied this year cannot apply again (once a year): its warning
    # is not offered as 转为申请 (issue 18).
    this_year = Application.objects.filter(household=OuterRef("household_id"), year=timezone.localdate().year)
    return (
        EarlyWarning.objects.filter(status="open", household__in=access_households(user))
        .exclude(Exists(this_year))
        .select_related("household__district")
        .prefetch_related("household__members")
        .order_by("-year", "-burden", "id")
    )


def applications_of_household_year(*, household: Household, year: int) -> QuerySet[Application]:
    return Application.objects.filter(household=household, year=year).order_by("received_on", "id")


def queue_filter(queue: str) -> Q:
    return {
        "to_send": Q(status=Status.RECEIVED),
        "to_assess": Q(status=Status.ASSESSING),
        "to_gather": Q(status=Status.GATHERING),
        "to_decide": Q(status=Status.REVIEWING),
        "open": Q(status__in=[Status.RECEIVED, Status.ASSESSING, Status.GATHERING, Status.REVIEWING]),
        "closed": Q(status__in=[Status.APPROVED, Status.REJECTED]),
    }.get(queue, Q())


def annual_bucket_used(*, person: Person, year: int, bucket: str, exclude: Application | None = None) -> tuple[Decimal, str]:
    """What ``person``'s bucket ``bucket`` already paid in ``year``, from claims' ledger: the bills'
    draws plus the relief of approved applications (recorded there as ``LedgerDraw`` rows when
    they are approved). ``exclude``'s own draw, if it has one, is left out.

    Returns (amount, note); the note says when the claims ledger could not be read.
    """
    used = Decimal("0.00")
    note = ""
    try:
        from claims.models import LedgerBucket, LedgerDraw
    except ImportError:  # pragma: no cover - claims ships it
        return used, "claims ledger not available: bills' bucket use taken as 0"
    row = (LedgerBucket.objects.filter(ledger__person=person, ledger__year=year, bucket=bucket)
           .values_list("used", flat=True).first())
    used += row if row is not None else Decimal("0.00")
    if exclude is not None and exclude.pk is not None:
        for amount in LedgerDraw.objects.filter(source=LedgerDraw.Source.APPLICATION, source_ref=exclude.pk,
                                                ledger__year=year, bucket=bucket).values_list("amount", flat=True):
            used -= amount
    return used, note
