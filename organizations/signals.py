"""Signals that keep the nightly incremental run complete (issue 12: everything that changes an
input triggers recomputation of the person-years it touches).

A region statistic recorded or corrected is found by its ``updated_at``; a deleted one (or one
moved to another region or year) leaves nothing under its old key, so its old key is written
as a :class:`organizations.models.RegionStatisticDeletion` in the same transaction. Django sends
``post_delete`` for ``Model.delete()``, ``QuerySet.delete()`` and cascades alike.
"""
from __future__ import annotations


def _record(region_id: int, year: int, income, contribution) -> None:
    from .models import RegionStatisticDeletion

    RegionStatisticDeletion.objects.create(region_id=region_id, year=year, per_capita_disposable_income=income,
                                           resident_contribution=contribution)


def statistic_deleted(sender, instance, **kwargs) -> None:
    _record(instance.region_id, instance.year, instance.per_capita_disposable_income, instance.resident_contribution)


def statistic_saving(sender, instance, raw=False, **kwargs) -> None:
    """A correction of the key (region or year): the old key loses its statistic."""
    if raw or instance.pk is None:
        return
    old = sender.objects.filter(pk=instance.pk).values_list(
        "region_id", "year", "per_capita_disposable_income", "resident_contribution").first()
    if old is not None and (old[0], old[1]) != (instance.region_id, instance.year):
        _record(*old)
