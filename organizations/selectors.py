"""Read-side helpers for organisations: scope in words, districts and institutions in scope."""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from .access import Scope, scope_for
from .models import District, Institution, Region


def scope_label(scope: Scope) -> str:
    """What the user can see, in words: "朝阳区", "北京市（全市）", "全部地区" or "无数据权限"."""
    if scope.everything:
        return _("全部地区")
    if scope.nothing:
        return _("无数据权限")
    if scope.district_id is not None:
        return District.objects.only("name").get(pk=scope.district_id).name
    return _("%(region)s（全市）") % {"region": Region.objects.only("name").get(pk=scope.region_id).name}


def access_districts(user) -> QuerySet[District]:
    """Districts the user works for: their own, or every district of their region (city level)."""
    scope = scope_for(user)
    qs = District.objects.select_related("region")
    if scope.everything:
        return qs
    if scope.nothing:
        return qs.none()
    if scope.district_id is not None:
        return qs.filter(pk=scope.district_id)
    return qs.filter(region_id=scope.region_id)


def access_institutions(user) -> QuerySet[Institution]:
    """Institutions of the user's region: a patient of one district is often treated in another,
    so district staff choose among all institutions of their region, not only their district's."""
    scope = scope_for(user)
    qs = Institution.objects.select_related("district")
    if scope.everything:
        return qs
    if scope.nothing:
        return qs.none()
    return qs.filter(district__region_id=scope.region_id)
