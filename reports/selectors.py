"""Reads of the reports app. Every list and detail queryset a view uses comes from here."""
from __future__ import annotations

from django.db.models import QuerySet

from organizations.access import restrict

from .models import Letter, PrintJob

__all__ = [
    "access_letters", "access_print_jobs", "access_report_applications", "access_report_bills", "access_report_certifications",
    "access_report_fund_districts", "access_report_fund_months",
    "access_report_warnings", "districts_in_scope", "letter_by_verify_code", "regions_in_scope",
]


def access_letters(user) -> QuerySet[Letter]:
    """Letters issued by an office in the user's scope (district staff: their district only)."""
    qs = Letter.objects.select_related("district", "issued_by", "replaces", "replaced_by", "delivery")
    return restrict(qs, user, district="district")


def access_print_jobs(user) -> QuerySet[PrintJob]:
    """Print jobs the user asked for themself (a job's file holds letters of the requester's scope)."""
    if not user.is_authenticated:
        return PrintJob.objects.none()
    return PrintJob.objects.filter(requested_by=user)


def letter_by_verify_code(code: str) -> Letter | None:
    """For the public verification page: only what it shows is loaded."""
    return (
        Letter.objects.filter(verify_code=code)
        .only("number", "issued_on", "amount", "office_name", "kind", "verify_code")
        .select_related(None)
        .first()
    )


# ------------------------------------------------------------------------------------------
# What the reports count. Each starts from ``restrict`` (district staff: their district).
# ------------------------------------------------------------------------------------------


def districts_in_scope(user) -> QuerySet:
    from organizations.selectors import access_districts

    return access_districts(user).order_by("code")


def regions_in_scope(user) -> QuerySet:
    from organizations.models import Region

    return Region.objects.filter(pk__in=districts_in_scope(user).values("region_id")).order_by("code")


def access_report_bills(user) -> QuerySet:
    """Bills by handling office (经办区县)."""
    from claims.models import Bill

    return restrict(Bill.objects.all(), user, district="district")


def access_report_fund_months(user) -> QuerySet:
    """The fund pre-aggregate (``reports.aggregate``) by handling office (bills) and receiving
    office (relief on application): the same scope as the bills and applications it sums."""
    from .models import FundMonth

    return restrict(FundMonth.objects.all(), user, district="district")


def access_report_fund_districts(user) -> QuerySet:
    """The fund pre-aggregate's district level (``reports.aggregate``: per district line and
    month), in the same scope as :func:`access_report_fund_months`."""
    from .models import FundDistrictMonth

    return restrict(FundDistrictMonth.objects.all(), user, district="district")


def access_report_applications(user) -> QuerySet:
    """Applications for relief (依申请救助) by receiving office (受理区县)."""
    from applications.models import Application

    return restrict(Application.objects.all(), user, district="district")


def access_report_certifications(user) -> QuerySet:
    """Certifications of people registered (户籍) in the user's scope."""
    from beneficiaries.models import Certification

    return restrict(Certification.objects.all(), user, district="person__hukou_district")


def access_report_warnings(user) -> QuerySet | None:
    """Early warnings of households in scope; None while the monitoring app has no warnings."""
    try:
        from monitoring.models import EarlyWarning
    except ImportError:
        return None
    return restrict(EarlyWarning.objects.all(), user, district="household__district")
