"""``{% load claims_tags %}{% person_ledger person %}``: the person's 年度累计 card, anywhere."""
from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("claims/_person_ledger.html")
def person_ledger(person, year=None):
    from claims.selectors import ledger_for_person

    return {"ledger_years": ledger_for_person(person, year)}


@register.filter
def bucket_label(code):
    """A ledger bucket's name (``inpatient``) as its label (住院); an unknown name as it is."""
    from policies.selectors import BUCKET_LABELS

    return BUCKET_LABELS.get(code, code)
