"""django-filter FilterSets for the bill and claim lists (GET parameters never carry ID numbers).

Every filter maps to an indexed column of ``claims_bill`` (district, status, institution,
category, discharge_date) or a selective range on the page already ordered by the keyset index.
"""
from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Exists, OuterRef
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Category
from organizations.models import District, Institution

from .models import Bill, BillSource, BillStatus, Claim, ClaimStatus, VisitType

DATE = forms.DateInput(attrs={"type": "date"})


class FastSelect(forms.Select):
    """A ``<select>`` rendered in Python: Django renders each ``<option>`` through the template
    engine, which was a third of the list page's CPU time with ~150 options on the form."""

    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, attrs)
        selected = {"" if v is None else str(v) for v in (value if isinstance(value, (list, tuple)) else [value])}
        options = []
        for option_value, label in self.choices:
            key = "" if option_value is None else str(getattr(option_value, "value", option_value))
            options.append(format_html('<option value="{}"{}>{}</option>', key,
                                       mark_safe(" selected") if key in selected else "", label))  # noqa: S308
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(final), mark_safe("".join(options)))  # noqa: S308


def _model_choices(field: forms.ModelChoiceField) -> list[tuple[str, str]]:
    """A district or institution field's choices as its widget showed them (the empty label,
    then ``str(instance)`` of each row), read with values_list: no model instances and no
    server-side cursor (ModelChoiceIterator's ``.iterator()``). Validation still goes through
    the field's scoped queryset."""
    queryset = field.queryset
    if queryset.model is Institution:  # Institution.__str__
        rows = [(str(pk), f"{name}（{code}）") for pk, name, code in queryset.values_list("pk", "name", "code")]
    else:  # District.__str__ is its name
        rows = [(str(pk), name) for pk, name in queryset.values_list("pk", "name")]
    return ([("", field.empty_label)] if field.empty_label is not None else []) + rows


def _style(form) -> None:
    """Bootstrap classes on the widgets: the list renders fields directly (no crispy: cheaper)."""
    for field in form.fields.values():
        if isinstance(field.widget, forms.Select):
            choices = _model_choices(field) if isinstance(field, forms.ModelChoiceField) else field.widget.choices
            widget = FastSelect(attrs=field.widget.attrs, choices=choices)
            widget.attrs.setdefault("class", "form-select form-select-sm")
            field.widget = widget
        else:
            field.widget.attrs.setdefault("class", "form-control form-control-sm")


def _scope_choices(filterset, districts) -> None:
    """The district, institution and category choices of a bill or claim filter, within ``districts``
    (the user's, from the view); then the Bootstrap styling."""
    districts = districts if districts is not None else District.objects.all()
    filterset.filters["district"].queryset = districts
    filterset.filters["institution"].queryset = Institution.objects.filter(
        district__region__in=districts.values("region")).order_by("district", "code")
    filterset.filters["category"].extra["choices"] = list(Category.objects.values_list("code", "name"))
    _style(filterset.form)


class BillFilter(django_filters.FilterSet):
    district = django_filters.ModelChoiceFilter(label=_("经办区县"), queryset=District.objects.none())
    status = django_filters.ChoiceFilter(label=_("状态"), choices=BillStatus.choices)
    institution = django_filters.ModelChoiceFilter(label=_("定点医药机构"), queryset=Institution.objects.none())
    visit_type = django_filters.ChoiceFilter(label=_("就诊类型"), choices=VisitType.choices)
    source = django_filters.ChoiceFilter(label=_("来源"), choices=BillSource.choices)
    category = django_filters.ChoiceFilter(label=_("救助对象类别"), choices=())
    date_from = django_filters.DateFilter(label=_("结算日期自"), field_name="discharge_date", lookup_expr="gte", widget=DATE)
    date_to = django_filters.DateFilter(label=_("结算日期至"), field_name="discharge_date", lookup_expr="lte", widget=DATE)
    amount_min = django_filters.NumberFilter(label=_("救助金额≥"), field_name="total_assistance", lookup_expr="gte")
    amount_max = django_filters.NumberFilter(label=_("救助金额≤"), field_name="total_assistance", lookup_expr="lte")
    settlement_no = django_filters.CharFilter(label=_("结算单号"), lookup_expr="exact")

    class Meta:
        model = Bill
        fields = ["district", "status", "institution", "visit_type", "source", "category"]

    def __init__(self, *args, districts=None, **kwargs):
        super().__init__(*args, **kwargs)
        _scope_choices(self, districts)


class ClaimFilter(django_filters.FilterSet):
    district = django_filters.ModelChoiceFilter(label=_("经办区县"), queryset=District.objects.none())
    status = django_filters.ChoiceFilter(label=_("状态"), choices=ClaimStatus.choices)
    institution = django_filters.ModelChoiceFilter(label=_("定点医药机构"), queryset=Institution.objects.none(), method="filter_bills")
    visit_type = django_filters.ChoiceFilter(label=_("就诊类型"), choices=VisitType.choices, method="filter_bills")
    category = django_filters.ChoiceFilter(label=_("救助对象类别"), choices=(), method="filter_bills")
    date_from = django_filters.DateFilter(label=_("申请日期自"), field_name="applied_on", lookup_expr="gte", widget=DATE)
    date_to = django_filters.DateFilter(label=_("申请日期至"), field_name="applied_on", lookup_expr="lte", widget=DATE)
    amount_min = django_filters.NumberFilter(label=_("核定金额≥"), field_name="approved_amount", lookup_expr="gte")
    amount_max = django_filters.NumberFilter(label=_("核定金额≤"), field_name="approved_amount", lookup_expr="lte")

    class Meta:
        model = Claim
        fields = ["district", "status"]

    def __init__(self, *args, districts=None, **kwargs):
        super().__init__(*args, **kwargs)
        _scope_choices(self, districts)

    def filter_bills(self, qs, name, value):
        """A claim matches when one of its bills does (EXISTS, so no duplicate rows)."""
        if not value:
            return qs
        return qs.filter(Exists(Bill.objects.filter(claim=OuterRef("pk"), **{name: value})))
