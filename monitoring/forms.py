from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class DismissForm(forms.Form):
    note = forms.CharField(
        label=_("排除原因"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
        help_text=_("如：经入户核实家庭收入足以负担，不属于因病致贫。"),
    )


class StartRunForm(forms.Form):
    full = forms.BooleanField(label=_("全量重算"), required=False)
    dry_run = forms.BooleanField(label=_("试运行（不写入）"), required=False)
