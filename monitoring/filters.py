"""Filters of the warning queue and the run list (django-filter)."""
from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from organizations.models import District

from .models import EarlyWarning, RecalcRun, RunStatus, WarningKind, WarningStatus


class WarningFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(label=_("状态"), choices=WarningStatus.choices, empty_label=_("全部状态"))
    kind = django_filters.ChoiceFilter(label=_("预警类型"), choices=WarningKind.choices, empty_label=_("全部类型"))
    year = django_filters.NumberFilter(label=_("年度"))
    district = django_filters.ModelChoiceFilter(
        label=_("区县"), field_name="household__district", queryset=District.objects.all(), empty_label=_("全部区县"),
    )
    min_burden = django_filters.NumberFilter(label=_("负担不低于"), field_name="burden", lookup_expr="gte")

    class Meta:
        model = EarlyWarning
        fields = ["status", "kind", "year", "district", "min_burden"]


class RunFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(label=_("状态"), choices=RunStatus.choices, empty_label=_("全部状态"))
    full = django_filters.ChoiceFilter(label=_("范围"), choices=[("1", _("全量")), ("0", _("增量"))],
                                       empty_label=_("全部"), method="filter_full")

    def filter_full(self, queryset, name, value):
        return queryset.filter(full=value == "1")

    class Meta:
        model = RecalcRun
        fields = ["status", "full"]
