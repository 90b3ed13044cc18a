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


# --------------------------------------------------------------------------------------------
# List rows rendered in Python (issue 20): the bill and claim lists' 50 rows cost ~60 % of the
# page in the template engine (1,400 variable lookups, ~1,000 gettext calls, 80 reverse()s,
# 150 get_FOO_display()s). These tags emit the very same markup as the loops they replaced, every
# value through format_html (escaped as autoescape would), the labels translated once per call,
# the links from one reverse() each. tests/claims/test_list_rows.py pins the cells.
# --------------------------------------------------------------------------------------------

_PK_SENTINEL = 987654321


def _url_maker(name: str):
    """``pk -> url`` for a URL name taking one integer: one reverse(), then string joins."""
    from django.urls import reverse

    head, tail = reverse(name, args=[_PK_SENTINEL]).split(str(_PK_SENTINEL))
    return lambda pk: f"{head}{pk}{tail}"


def _ymd(value) -> str:
    return "" if value is None else f"{value:%Y-%m-%d}"


def _money(value) -> str:
    """``{{ value|yuan }}``: None renders as the template would ("None")."""
    from organizations.templatetags.money import yuan

    return str(yuan(value))


def _labels(choices) -> dict:
    return {value: str(label) for value, label in choices}


@register.simple_tag
def bill_rows(bills):
    """The bill list's ``<tr>``s (claims/bill_list.html)."""
    from django.utils.html import format_html
    from django.utils.safestring import mark_safe
    from django.utils.translation import gettext

    from beneficiaries import idnumber
    from claims.models import STATUS_BADGES, BillSource, BillStatus, VisitType

    bill_url, claim_url = _url_maker("claims:bill"), _url_maker("claims:detail")
    visit, source, status = _labels(VisitType.choices), _labels(BillSource.choices), _labels(BillStatus.choices)
    pending = format_html('<span class="text-muted" title="{}">—</span>', gettext("待夜间重算"))
    differs_title, recalc = gettext("核定金额与重算结果不同：核定金额经更正决定才改变"), gettext("重算")
    out = []
    for b in bills:
        source_label = source.get(b.source, b.source)
        if b.claim_id:
            source_cell = format_html('<a href="{}" title="{}">{}</a>', claim_url(b.claim_id), source_label, b.claim.number)
        else:
            source_cell = format_html("{}", source_label)
        if b.computed_at:
            shown = b.assistance_shown
            assistance = format_html('<span class="money">{}</span>', _money(shown))
            if shown != b.total_assistance:
                assistance += format_html('<span class="d-block small text-muted fw-normal" title="{}">{} {}</span>',
                                          differs_title, recalc, _money(b.total_assistance))
            assistance = format_html("{}\n", assistance)  # the end of the file claims/_assistance_shown.html, which this was
        else:
            assistance = pending
        hospital = "" if b.hospital_assistance_paid is None else _money(b.hospital_assistance_paid)
        out.append(format_html(
            '\n    <tr>\n      <td><a href="{}">{}</a></td>\n'
            '      <td>{}</td><td class="font-monospace small">{}</td>\n'
            '      <td class="text-wrap minw-10r">{}</td><td>{}</td><td>{}</td>\n'
            '      <td>{}</td>\n'
            '      <td><span class="badge {}">{}</span></td>\n'
            '      <td class="money">{}</td><td class="money">{}</td>\n'
            '      <td class="money fw-semibold">{}</td>\n'
            '      <td class="money">{}</td>\n    </tr>\n  ',
            bill_url(b.pk), b.settlement_no,
            b.person.name, idnumber.mask(b.person.id_number),
            b.institution.name, visit.get(b.visit_type, b.visit_type), _ymd(b.discharge_date),
            source_cell,
            STATUS_BADGES.get(b.status, "text-bg-secondary"), status.get(b.status, b.status),
            _money(b.total_cost), _money(b.burden),
            assistance,
            hospital))
    return mark_safe("".join(out))  # noqa: S308 - every piece went through format_html


def _user_name(user) -> str:
    """``{{ user.get_full_name|default:user.username }}``."""
    if user is None:
        return ""
    return user.get_full_name() or user.username


@register.simple_tag
def claim_rows(claims):
    """The claim list's ``<tr>``s (claims/claim_list.html)."""
    from django.utils.html import format_html
    from django.utils.safestring import mark_safe

    from beneficiaries import idnumber
    from claims.models import STATUS_BADGES, ClaimStatus

    claim_url = _url_maker("claims:detail")
    status = _labels(ClaimStatus.choices)
    out = []
    for c in claims:
        out.append(format_html(
            '\n    <tr>\n      <td><a href="{}">{}</a></td>\n'
            '      <td>{}</td><td class="font-monospace small">{}</td><td>{}</td>\n'
            '      <td>{}</td><td><span class="badge {}">{}</span></td>\n'
            '      <td class="money">{}</td>\n'
            '      <td class="small">{}</td>\n'
            '      <td class="small">{}</td>\n    </tr>\n  ',
            claim_url(c.pk), c.number,
            c.person.name, idnumber.mask(c.person.id_number), c.district.name,
            _ymd(c.applied_on), STATUS_BADGES.get(c.status, "text-bg-secondary"), status.get(c.status, c.status),
            "—" if c.approved_amount is None else _money(c.approved_amount),
            _user_name(c.created_by),
            _user_name(c.reviewed_by) if c.reviewed_by_id else ""))
    return mark_safe("".join(out))  # noqa: S308 - every piece went through format_html
