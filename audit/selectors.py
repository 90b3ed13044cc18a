"""Who may read the access log, and which rows: auditors (and superusers) only.

A district auditor sees what was done by staff of their district or to persons of their
district; a city-level auditor their region (organizations.access scope rules)."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from organizations import roles
from organizations.access import scope_for

from .models import AccessLog


def can_read_log(user) -> bool:
    return user.is_authenticated and (user.is_superuser or roles.has_role(user, roles.AUDITOR))


def access_log(user) -> QuerySet[AccessLog]:
    qs = AccessLog.objects.select_related("user", "person", "person__hukou_district")
    if not can_read_log(user):
        return qs.none()
    scope = scope_for(user)
    if scope.everything:
        return qs
    if scope.nothing:
        return qs.none()
    if scope.district_id is not None:
        return qs.filter(Q(user__staff_profile__district_id=scope.district_id) | Q(person__hukou_district_id=scope.district_id))
    return qs.filter(Q(user__staff_profile__agency__region_id=scope.region_id) | Q(person__hukou_district__region_id=scope.region_id))
