from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Action


class LogSearchForm(forms.Form):
    user = forms.CharField(label=_("操作人（用户名）"), max_length=150, required=False)
    person = forms.CharField(label=_("涉及人员（姓名）"), max_length=50, required=False)
    action = forms.ChoiceField(label=_("操作"), choices=[("", _("全部"))] + list(Action.choices), required=False)
    start = forms.DateField(label=_("起始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("截止日期不能早于起始日期。"))
        return data

    def apply(self, qs):
        data = self.cleaned_data
        if data.get("user"):
            qs = qs.filter(username__icontains=data["user"].strip())
        if data.get("person"):
            qs = qs.filter(person__name__icontains=data["person"].strip())
        if data.get("action"):
            qs = qs.filter(action=data["action"])
        if data.get("start"):
            qs = qs.filter(at__date__gte=data["start"])
        if data.get("end"):
            qs = qs.filter(at__date__lte=data["end"])
        return qs
