"""Reads of the monitoring app, scoped in one place.

- Runs are city-level records (one run covers the whole city): city-level staff of any role,
  auditors and superusers see them; district staff do not.
- Warnings belong to a household and are scoped by the household's district (``restrict``).
"""
from __future__ import annotations

from django.db.models import QuerySet

from organizations import roles
from organizations.access import restrict, scope_for

from .models import EarlyWarning, RecalcRun, RunStatus, WarningStatus


def can_see_runs(user) -> bool:
    """City-level staff, auditors (of any level) and superusers."""
    scope = scope_for(user)
    if scope.everything:
        return True
    if scope.nothing:
        return False
    if roles.has_role(user, roles.AUDITOR):
        return True
    return scope.city_level


def access_runs(user) -> QuerySet[RecalcRun]:
    qs = RecalcRun.objects.select_related("person", "triggered_by")
    if not can_see_runs(user):
        return qs.none()
    return qs


def access_warnings(user) -> QuerySet[EarlyWarning]:
    qs = EarlyWarning.objects.select_related("household__district", "handled_by", "run")
    return restrict(qs, user, district="household__district")


def can_handle_warnings(user) -> bool:
    """Civil-affairs staff handle warnings (POLICY.md §6); medical security and auditors read them."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    scope = scope_for(user)
    return scope.agency_kind == "civil_affairs" and roles.has_role(user, roles.CERTIFIER, roles.CASEWORKER)


def persons_requested_of_agency(user, scope):
    """Registered in ``organizations.access`` (``requested_of_agency``): the members of the
    households of the early warnings in a civil-affairs certifier's scope (warnings are civil
    affairs' work items, POLICY.md §6: they may certify the household)."""
    if scope.agency_kind != "civil_affairs":
        return None
    from beneficiaries.models import Person

    return Person.objects.filter(household__early_warnings__in=access_warnings(user)).values("pk")


def open_warning_count(user) -> int:
    return access_warnings(user).filter(status=WarningStatus.OPEN).count()


def last_run(user) -> RecalcRun | None:
    return access_runs(user).filter(dry_run=False).order_by("-started_at", "-id").first()


def last_successful_run(*, exclude_pk: int | None = None) -> RecalcRun | None:
    """The last successful, unfiltered, non-dry run: its start is the next run's incremental cut-off.

    A run limited to one year or one person recomputed only part of the data, so it cannot move
    the cut-off.
    """
    qs = RecalcRun.objects.filter(status=RunStatus.SUCCEEDED, dry_run=False, year__isnull=True, person__isnull=True)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.order_by("-started_at", "-id").first()
