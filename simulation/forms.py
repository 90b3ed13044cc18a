"""Forms of the what-if simulation: a new draft, the draft's rules (JSON validated by the engine), a run."""
from __future__ import annotations

from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organizations.access import scope_for
from organizations.models import District
from policies.forms import RULES_WIDGET, PrettyJSONField, StampedRulesForm
from policies.selectors import access_policies, usable_policies

from .services import validate_draft_rules

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DraftCreateForm(forms.Form):
    base = forms.ModelChoiceField(label=_("复制的现行版本"), queryset=None)
    scenario = forms.CharField(label=_("测算方案名称"), max_length=100, help_text=_("如：提高低收入家庭住院年度限额"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        usable = usable_policies().values("pk")
        self.fields["base"].queryset = (access_policies(user).filter(is_current=True, region__isnull=False, pk__in=usable)
                                        .order_by("region__code", "code"))


class DraftEditForm(forms.Form):
    scenario = forms.CharField(label=_("测算方案名称"), max_length=100)
    note = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    rules = PrettyJSONField(label=_("草拟规则"), widget=RULES_WIDGET,
                            help_text=_("计算引擎的政策参数（JSON）：修改费率、限额、起付标准、档次或类别；保存时由计算引擎校验。"))

    def clean_rules(self):
        rules = self.cleaned_data.get("rules")
        validate_draft_rules(rules)
        return rules


def last_calendar_year(today: date | None = None) -> tuple[date, date]:
    year = (today or timezone.localdate()).year - 1
    return date(year, 1, 1), date(year, 12, 31)


class RunForm(forms.Form):
    period_start = forms.DateField(label=_("测算期间起"), widget=DATE)
    period_end = forms.DateField(label=_("测算期间止"), widget=DATE)
    district = forms.ModelChoiceField(label=_("区县"), queryset=District.objects.none(), required=False,
                                      empty_label=_("全统筹地区"))

    def __init__(self, *args, user, region_id: int | None, **kwargs):
        super().__init__(*args, **kwargs)
        start, end = last_calendar_year()
        self.fields["period_start"].initial = start
        self.fields["period_end"].initial = end
        qs = District.objects.filter(region_id=region_id).order_by("code")
        scope = scope_for(user)
        if not scope.everything and scope.district_id is not None:
            qs = qs.filter(pk=scope.district_id)
        self.fields["district"].queryset = qs

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end and start > end:
            self.add_error("period_end", ValidationError(_("测算期间止不能早于起。"), code="period_order"))
        if start and end and (end - start).days > 366 * 3:
            self.add_error("period_end", ValidationError(_("测算期间最长三年。"), code="period_too_long"))
        return cleaned


class CompareForm(forms.Form):
    a = forms.ModelChoiceField(label=_("方案甲"), queryset=None)
    b = forms.ModelChoiceField(label=_("方案乙"), queryset=None)

    def __init__(self, *args, runs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["a"].queryset = runs
        self.fields["b"].queryset = runs


class DraftStructuredForm(StampedRulesForm):
    """A draft's parameters as fields (the same editor as a policy's); saved into the draft."""

    scenario = forms.CharField(label=_("测算方案名称"), max_length=100,
                               widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))
    note = forms.CharField(label=_("说明"), required=False,
                           widget=forms.Textarea(attrs={"rows": 2, "class": "form-control form-control-sm"}))

    def __init__(self, *args, draft, **kwargs):
        super().__init__(*args, rules=draft.rules, obj=draft, **kwargs)
        self.initial.setdefault("scenario", draft.scenario)
        self.initial.setdefault("note", draft.note)

    def prepare_rules(self, rules):
        rules["code"] = self.obj.base.code
        return rules
