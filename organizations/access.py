"""District and agency scope, in one place.

Every queryset a view shows comes through :func:`restrict` (or an ``access_*`` selector built on
it), so no view can forget the scope. Rules, one per line below:

- a superuser sees everything;
- a user without a staff profile sees nothing;
- city-level staff (no district on the profile) see their region;
- district staff see their district only;
- an API client acts as a service account: an agency's through a staff profile of its agency,
  an institution's as the institution's district (:func:`_institution_client_scope`);
- a certifier acting for an agency other than medical security (civil affairs, veterans, union,
  disability, rural revitalisation, health, police) sees, within the district, only the persons of
  their agency's categories and those they are asked to certify (registered by them, registered at
  an office and certified by no agency yet, or requested of their agency by another app)
  (:func:`agency_restricted`, :func:`requested_of_agency`; applied by
  ``beneficiaries.selectors.access_persons``). Medical-security staff and auditors see every person.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Model, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    nothing: bool = False
    region_id: int | None = None
    district_id: int | None = None
    agency_id: int | None = None
    agency_kind: str | None = None

    @property
    def city_level(self) -> bool:
        return self.everything or (self.region_id is not None and self.district_id is None)


def scope_for(user) -> Scope:
    if not user.is_authenticated or not user.is_active:
        return Scope(nothing=True)
    if user.is_superuser:
        return Scope(everything=True)
    profile = getattr(user, "_staff_profile_cache", None)
    if profile is None:
        from .models import StaffProfile

        profile = StaffProfile.objects.select_related("agency").filter(user=user).first()
        if profile is None:
            return _institution_client_scope(user)
        user._staff_profile_cache = profile
    return Scope(
        region_id=profile.agency.region_id,
        district_id=profile.district_id,
        agency_id=profile.agency_id,
        agency_kind=profile.agency.kind,
    )


def _institution_client_scope(user) -> Scope:
    """An API client bound to a designated institution (api.models.ApiClient) sees that
    institution's district, as the district's staff do; any other user without a profile, nothing."""
    from api.models import ApiClient

    client = ApiClient.objects.select_related("institution__district").filter(user=user, institution__isnull=False).first()
    if client is None or client.revoked_at is not None:
        return Scope(nothing=True)
    district = client.institution.district
    return Scope(region_id=district.region_id, district_id=district.pk)


def restrict(qs: QuerySet, user, *, district: str, region: str | None = None) -> QuerySet:
    """Filter ``qs`` to the user's scope.

    ``district`` is the lookup path from the model to its District (e.g. ``"hukou_district"``),
    ``region`` the path to its Region (defaults to ``district + "__region"``).
    """
    scope = scope_for(user)
    if scope.everything:
        return qs
    if scope.nothing:
        return qs.none()
    if scope.district_id is not None:
        return qs.filter(**{f"{district}_id": scope.district_id})
    return qs.filter(**{f"{region or district + '__region'}_id": scope.region_id})


def restrict_by_district(qs: QuerySet, user, *, district: str = "district") -> QuerySet:
    """:func:`restrict` with the same rules, except that city level is written as
    ``<district>_id IN (the region's districts)`` instead of a join on the region: on large tables
    the planner then walks an index on the district column (or the list's keyset index) instead
    of joining and sorting the region (claims and applications lists, issue 20)."""
    scope = scope_for(user)
    if scope.city_level and not scope.everything and not scope.nothing:
        from .models import District

        ids = list(District.objects.filter(region_id=scope.region_id).values_list("pk", flat=True))
        return qs.filter(**{f"{district}_id__in": ids})
    return restrict(qs, user, district=district)


def get_scoped_or_404(qs: QuerySet, user, *, district: str, region: str | None = None, **lookup) -> Model:
    """The object if it is in the user's scope; 404 (not 403) otherwise, so nothing leaks."""
    return get_object_or_404(restrict(qs, user, district=district, region=region), **lookup)


def ensure_in_scope(user, *, district_id: int | None, region_id: int | None) -> None:
    """For writes: refuse a district outside the user's scope with 404."""
    scope = scope_for(user)
    if scope.everything:
        return
    if scope.nothing:
        raise Http404
    if scope.district_id is not None and district_id != scope.district_id:
        raise Http404
    if scope.district_id is None and region_id != scope.region_id:
        raise Http404


def agency_restricted(user) -> bool:
    """True for a certifier of an agency other than medical security: least privilege, they see
    only the persons of their agency's categories (issue 15). Superusers, medical-security staff
    (caseworker, reviewer, auditor, whatever their agency) and users without an agency are not."""
    from . import roles
    from .models import AgencyKind

    if not user.is_authenticated or user.is_superuser:
        return False
    scope = scope_for(user)
    if scope.nothing or scope.agency_id is None or scope.agency_kind == AgencyKind.MEDICAL_SECURITY:
        return False
    return not roles.has_role(user, roles.CASEWORKER, roles.REVIEWER, roles.AUDITOR)


# Apps that ask an agency to certify someone (an application sent to civil affairs for the
# household assessment, an early warning civil affairs handles) register a provider here:
# ``provider(user, scope) -> QuerySet`` of Person primary keys (``values("pk")``) within the
# user's district scope, or None when they ask nothing of this user's agency.
_AGENCY_REQUESTS: list[Callable] = []


def register_agency_requests(provider: Callable) -> None:
    if provider not in _AGENCY_REQUESTS:
        _AGENCY_REQUESTS.append(provider)


def requested_of_agency(user) -> list[QuerySet]:
    """Person-pk querysets the user's agency is asked to certify (one per registered provider)."""
    scope = scope_for(user)
    found = []
    for provider in _AGENCY_REQUESTS:
        qs = provider(user, scope)
        if qs is not None:
            found.append(qs)
    return found
