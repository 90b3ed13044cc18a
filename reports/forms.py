"""Forms of the letter actions: validation of input only (the services re-check and write).

Their text fields refuse control characters like every form's (organizations.textinput); before,
the correction reason and the delivery note went from ``request.POST`` to the database, and a NUL
answered 500.
"""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class LetterCorrectForm(forms.Form):
    reason = forms.CharField(label=_("更正原因"), max_length=300, required=False)


class LetterDeliveryForm(forms.Form):
    delivered_on = forms.DateField(label=_("送达日期"), required=False)
    method = forms.CharField(label=_("送达方式"), max_length=20, required=False)
    note = forms.CharField(label=_("备注"), max_length=500, required=False)


def errors_text(form: forms.Form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)
