from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import Application, Channel, Status


class ApplicationFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("编号或姓名"), method="filter_q")
    status = django_filters.ChoiceFilter(label=_("状态"), choices=Status.choices)
    channel = django_filters.ChoiceFilter(label=_("渠道"), choices=Channel.choices)
    year = django_filters.NumberFilter(label=_("年度"))
    received_after = django_filters.DateFilter(label=_("受理日期起"), field_name="received_on", lookup_expr="gte",
                                               widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}))
    received_before = django_filters.DateFilter(label=_("受理日期止"), field_name="received_on", lookup_expr="lte",
                                                widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = Application
        fields = ["q", "status", "channel", "year"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(number__icontains=value) | Q(applicant__name__icontains=value))
