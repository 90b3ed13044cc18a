"""Reads of the simulation app; every queryset a view shows comes from an ``access_*`` here.

- drafts: region-wide like policies; staff of the region (city level) see their region's drafts;
  district staff see none (a draft is the bureau's work, not a district's);
- runs: city-level staff see their region's runs; district staff see only runs of their district;
- person-years of a run: additionally restricted to the user's district (``organizations.access.restrict``).
"""
from __future__ import annotations

from django.db.models import QuerySet

from organizations.access import restrict, scope_for

from .models import PolicyDraft, SimulationPersonYear, SimulationRun

__all__ = ["access_drafts", "access_person_years", "access_runs"]


def access_drafts(user) -> QuerySet[PolicyDraft]:
    qs = PolicyDraft.objects.select_related("base", "region", "created_by")
    scope = scope_for(user)
    if scope.everything:
        return qs
    if scope.nothing or scope.district_id is not None:
        return qs.none()
    return qs.filter(region_id=scope.region_id)


def access_runs(user) -> QuerySet[SimulationRun]:
    qs = SimulationRun.objects.select_related("draft", "draft__base", "region", "district", "created_by")
    scope = scope_for(user)
    if scope.everything:
        return qs
    if scope.nothing:
        return qs.none()
    if scope.district_id is not None:
        return qs.filter(district_id=scope.district_id)
    return qs.filter(region_id=scope.region_id)


def access_person_years(user, run: SimulationRun) -> QuerySet[SimulationPersonYear]:
    return restrict(SimulationPersonYear.objects.filter(run=run).select_related("person", "district"), user,
                    district="district")
