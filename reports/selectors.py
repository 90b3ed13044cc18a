"""Reads of the reports app. Every list and detail queryset a view uses comes from here."""
from __future__ import annotations

from django.db.models import QuerySet

from organizations.access import restrict

from .models import Letter, PrintJob

__all__ = ["access_letters", "access_print_jobs", "letter_by_verify_code"]


def access_letters(user) -> QuerySet[Letter]:
    """Letters issued by an office in the user's scope (district staff: their district only)."""
    qs = Letter.objects.select_related("district", "issued_by", "replaces", "replaced_by")
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
