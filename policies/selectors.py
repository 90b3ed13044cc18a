"""Reads of the policies app: the policy in force, its engine spec, regional statistics, scope.

Policies are region-wide data: a bill is computed under the policy in force in its region on its
settlement (discharge) date. A region without a policy of its own falls back to a *confirmed*
national framework (region empty); an unconfirmed template is never used.
"""
from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from organizations.access import scope_for

from .models import Policy

if TYPE_CHECKING:  # the engine is imported lazily at run time
    from organizations.models import Region

    from .engine.types import PolicySpec

__all__ = ["access_policies", "policy_in_force", "region_stats", "spec_of", "usable_policies"]


def usable_policies() -> QuerySet[Policy]:
    """Versions that may be used for computation: not a template, or a confirmed one."""
    return Policy.objects.filter(Q(needs_confirmation=False) | Q(confirmed_at__isnull=False))


def _in_force_on(qs: QuerySet[Policy], on: date) -> QuerySet[Policy]:
    return qs.filter(effective_from__lte=on).filter(Q(effective_to__isnull=True) | Q(effective_to__gte=on))


def policy_in_force(*, region: Region | int | None, on: date) -> Policy | None:
    """The usable policy version of ``region`` whose effective period contains ``on``.

    Several versions can cover a date when a correction kept the same ``effective_from``: the
    latest version wins. A region with no policy of its own uses a confirmed national framework
    (region empty), if any; otherwise None.
    """
    region_id = region.pk if hasattr(region, "pk") else region
    base = _in_force_on(usable_policies(), on).select_related("region").order_by("-effective_from", "-version")
    if region_id is not None:
        found = base.filter(region_id=region_id).first()
        if found is not None:
            return found
    return base.filter(region__isnull=True).first()


_spec_cache: dict[tuple[int, object], PolicySpec] = {}
_spec_lock = threading.Lock()


def spec_of(policy: Policy) -> PolicySpec:
    """``PolicySpec.from_dict(policy.rules)``, cached per policy row in this process.

    The key includes ``updated_at`` so an in-place edit of a not-yet-used version (the only kind
    of in-place edit services allow) is picked up by every process. An unsaved policy is never
    cached. ``PolicyError`` propagates for rules that do not validate.
    """
    from .engine.types import PolicySpec

    if policy.pk is None:
        return PolicySpec.from_dict(policy.rules)
    key = (policy.pk, getattr(policy, "updated_at", None))
    spec = _spec_cache.get(key)
    if spec is None:
        spec = PolicySpec.from_dict(policy.rules)
        with _spec_lock:
            for old in [k for k in _spec_cache if k[0] == policy.pk]:
                _spec_cache.pop(old, None)
            _spec_cache[key] = spec
    return spec


def forget_spec(policy_pk: int | None = None) -> None:
    """Drop cached specs (one policy, or all): for tests and after in-place edits."""
    with _spec_lock:
        if policy_pk is None:
            _spec_cache.clear()
        else:
            for old in [k for k in _spec_cache if k[0] == policy_pk]:
                _spec_cache.pop(old, None)


def region_stats(region: Region | int | None) -> dict[int, dict[str, Decimal]]:
    """``{year: {"per_capita_disposable_income": Decimal, "resident_contribution": Decimal}}``.

    Only recorded values appear (a missing one stays missing, never zero). National (None): {}.
    """
    from organizations.models import RegionStatistic

    region_id = region.pk if hasattr(region, "pk") else region
    if region_id is None:
        return {}
    out: dict[int, dict[str, Decimal]] = {}
    for stat in RegionStatistic.objects.filter(region_id=region_id).order_by("year"):
        values = stat.as_engine_stats()
        if values:
            out[stat.year] = {k: Decimal(v) for k, v in values.items()}
    return out


def access_policies(user) -> QuerySet[Policy]:
    """Policies ``user`` may read: region-wide rules, so district staff see their whole region.

    - a superuser sees every policy;
    - a user without a staff profile sees none;
    - staff see their region's policies and the national ones (region empty).
    """
    qs = Policy.objects.select_related("region", "supersedes", "confirmed_by")
    scope = scope_for(user)
    if scope.everything:
        return qs
    if scope.nothing:
        return qs.none()
    return qs.filter(Q(region_id=scope.region_id) | Q(region__isnull=True))
