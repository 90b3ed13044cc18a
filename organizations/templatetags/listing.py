"""``{% sort_th "applied_on" _("申请日期") %}``: a column header that sorts the list (click again
to reverse), keeping the other GET parameters; needs ``sort`` (organizations.listing.Sort) in
the context. Pages restart at 1 when the order changes."""
from __future__ import annotations

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def sort_th(context, key: str, label, css: str = ""):
    request = context["request"]
    sort = context.get("sort")
    params = request.GET.copy()
    for name in ("page", "after", "before", "p"):
        params.pop(name, None)
    active = sort is not None and sort.key == key
    params["sort"] = key if (active and sort.descending) else f"-{key}"
    if active:
        arrow, aria = ("bi-caret-down-fill", "descending") if sort.descending else ("bi-caret-up-fill", "ascending")
    else:
        arrow, aria = ("bi-chevron-expand text-muted", "none")
    return format_html(
        '<th class="{}" aria-sort="{}"><a class="sort-link text-reset text-decoration-none" href="?{}">{} <i class="bi {}"></i></a></th>',
        css, aria, params.urlencode(), label, arrow)


@register.simple_tag(takes_context=True)
def page_query(context, number):
    """The current query with ``page`` set to ``number``."""
    params = context["request"].GET.copy()
    params["page"] = number
    return params.urlencode()


@register.simple_tag
def page_numbers(page):
    """The page numbers a pager shows (organizations.listing.page_window)."""
    from organizations.listing import page_window

    return page_window(page)
