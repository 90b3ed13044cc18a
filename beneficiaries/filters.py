"""django-filter FilterSets for the list screens (GET parameters never carry ID numbers)."""
from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Category, Certification, Person


class PersonFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(label=_("姓名"), lookup_expr="icontains")
    hukou_district = django_filters.ModelChoiceFilter(label=_("户籍区县"), queryset=None)
    category = django_filters.ModelChoiceFilter(label=_("当前身份"), queryset=Category.objects.all(), method="filter_category")

    class Meta:
        model = Person
        fields = ["name", "hukou_district", "category"]

    def __init__(self, *args, user, districts=None, **kwargs):
        super().__init__(*args, **kwargs)
        from organizations.models import District

        from . import selectors

        self.user = user
        self.filters["hukou_district"].queryset = districts if districts is not None else District.objects.all()
        # Only categories the user may see: a certifier must not find, say, HIV patients by filtering.
        self.filters["category"].queryset = Category.objects.filter(
            pk__in=selectors.access_certifications(user).values("category_id").distinct()
        ) if not (user.is_superuser or selectors.is_medsec(user)) else Category.objects.all()

    def filter_category(self, qs, name, value):
        """Persons holding ``value`` today, through the user's certification scope."""
        from . import selectors

        if not value:
            return qs
        today = timezone.localdate()
        held = selectors.access_certifications(self.user).filter(category=value, valid_from__lte=today).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        return qs.filter(pk__in=held.values("person_id"))


STATUS_CHOICES = [("active", _("有效")), ("due", _("30天内到期")), ("ended", _("已终止"))]


class CertificationFilter(django_filters.FilterSet):
    category = django_filters.ModelChoiceFilter(label=_("类别"), queryset=Category.objects.all())
    status = django_filters.ChoiceFilter(label=_("状态"), choices=STATUS_CHOICES, method="filter_status")
    name = django_filters.CharFilter(label=_("姓名"), field_name="person__name", lookup_expr="icontains")

    class Meta:
        model = Certification
        fields = ["category", "status", "name"]

    def __init__(self, *args, categories=None, **kwargs):
        super().__init__(*args, **kwargs)
        if categories is not None:
            self.filters["category"].queryset = categories

    def filter_status(self, qs, name, value):
        today = timezone.localdate()
        active = Q(valid_from__lte=today) & (Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        if value == "active":
            return qs.filter(active)
        if value == "due":
            return qs.filter(valid_until__gte=today, valid_until__lte=today + timedelta(days=30))
        if value == "ended":
            return qs.filter(valid_until__lt=today)
        return qs
