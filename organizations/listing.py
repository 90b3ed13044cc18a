"""Sorting and numbered pages shared by the list screens (issue 18).

``sort_order(request, allowed, default)`` reads ``?sort=<key>`` or ``?sort=-<key>`` against a
whitelist (key → model field path), so a URL can never order by an arbitrary column.
``page_window(page)`` gives the page numbers a pager shows (first, last, and two either side).
``keyset_page(qs, params, field=, descending=, size=)`` pages a list by a (field, id) cursor
(``?after=<value>_<id>``, ``?before=`` going back) instead of OFFSET, so a deep page costs what
page 1 costs (issue 20); the bill, claim and application lists use it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, Model, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.http import QueryDict


@dataclass(frozen=True)
class Sort:
    key: str          # what the URL says, e.g. "applied_on"
    descending: bool
    order_by: tuple[str, ...]

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key


def sort_order(raw: str | None, allowed: dict[str, str], default: str) -> Sort:
    """The order for ``?sort=``; ties broken by id in the same direction (stable pages)."""
    raw = (raw or "").strip()
    descending = raw.startswith("-")
    key = raw.lstrip("-")
    if key not in allowed:
        descending = default.startswith("-")
        key = default.lstrip("-")
    field = allowed[key]
    sign = "-" if descending else ""
    # a field may itself be given descending ("age" is "-birth_date"): "-" + "-x" is "x"
    first = field[1:] if descending and field.startswith("-") else f"{sign}{field}"
    order = (first,) if field == "id" else (first, f"{sign}id")
    return Sort(key=key, descending=descending, order_by=order)


def page_window(page, *, around: int = 2) -> list[int | None]:
    """[1, None, 4, 5, 6, 7, 8, None, 20]: None is a gap (…)."""
    last = page.paginator.num_pages
    numbers = sorted({1, last, *range(max(1, page.number - around), min(last, page.number + around) + 1)})
    out: list[int | None] = []
    for n in numbers:
        if out and out[-1] is not None and n - out[-1] > 1:
            out.append(None)
        out.append(n)
    return out


# --------------------------------------------------------------------------------------------
# Keyset pages (issue 20): a deep page costs what page 1 costs
# --------------------------------------------------------------------------------------------

COUNT_CAP = 10_000  # a keyset list counts at most this many rows (a LIMIT inside the COUNT)
PK_MAX = 2**63 - 1  # a cursor id beyond bigint is tampered with: page 1, not a database error


def keyset_after(qs: QuerySet, cursor: tuple, *, field: str, descending: bool = True) -> QuerySet:
    """Rows after ``cursor`` = (value of ``field``, id) in list order, written as ONE row
    comparison ``(field, id) < (value, pk)``: PostgreSQL uses it as an index bound on an index
    on (field, id) (an ``a < x OR (a = x AND b < y)`` is a filter it evaluates row by row).
    ``field="id"`` pages on the primary key alone (``cursor`` is then ``(pk,)``)."""
    if field == "id":
        return qs.filter(id__lt=cursor[0]) if descending else qs.filter(id__gt=cursor[0])
    key = Tuple(F(field), F("id"))
    lookup = TupleLessThan if descending else TupleGreaterThan
    return qs.filter(lookup(key, cursor))


def cursor_text(row: Any, field: str) -> str:
    """``<value>_<id>`` of a row (a date as YYYY-MM-DD), or ``<id>`` when the list is ordered by id."""
    if field == "id":
        return str(row.pk)
    value = getattr(row, field)
    return f"{value.isoformat() if hasattr(value, 'isoformat') else value}_{row.pk}"


def parse_cursor(raw: str | None, model: type[Model], field: str) -> tuple | None:
    """The (value, id) a cursor names, or None when it is absent or malformed (the list then
    shows page 1: a hand-edited URL is not a server error). The id is split off the right, so
    a value may itself contain ``_``."""
    if not raw or "\x00" in raw:
        return None
    try:
        if field == "id":
            value, pk = None, int(raw)
        else:
            text, pk_text = raw.rsplit("_", 1)
            model_field = model._meta.get_field(field)
            value, pk = model_field.to_python(text), int(pk_text)
            if model_field.choices and value not in {choice for choice, _label in model_field.flatchoices}:
                return None
    except (ValueError, ValidationError):
        return None
    if not -PK_MAX <= pk <= PK_MAX:
        return None
    if field == "id":
        return (pk,)
    return None if value is None else (value, pk)


@dataclass
class KeysetPage:
    """One page of a keyset-paged list and the links of its pager (templates/_keyset_pager.html)."""

    rows: list
    number: int                    # page number the links carry (``p=``); 1 on the first page
    is_first: bool
    next_query: str | None         # querystrings, every other GET parameter kept
    prev_query: str | None
    first_query: str

    def context(self) -> dict:
        return {"next_query": self.next_query, "prev_query": self.prev_query, "first_query": self.first_query,
                "is_first": self.is_first, "page_number": self.number}


def keyset_page(qs: QuerySet, params: QueryDict, *, field: str, descending: bool, size: int) -> KeysetPage:
    """The page ``?after=`` (or ``?before=``, going back) names in ``qs`` ordered by (``field``,
    id), both in the direction ``descending`` says; ``qs`` must already be ordered so. One query
    (``size + 1`` rows: the extra row says whether there is a next page), whatever the depth."""
    after = parse_cursor(params.get("after"), qs.model, field)
    before = parse_cursor(params.get("before"), qs.model, field) if after is None else None
    try:
        number = max(1, int(params.get("p") or 1))
    except ValueError:
        number = 1
    if before is not None:  # previous page: the rows just before, read backwards then flipped
        back = [name[1:] if name.startswith("-") else f"-{name}" for name in qs.query.order_by]
        rows = list(keyset_after(qs, before, field=field, descending=not descending).order_by(*back)[: size + 1])
        has_prev = len(rows) > size
        rows = rows[:size][::-1]
        has_next = True
    else:
        if after is not None:
            qs = keyset_after(qs, after, field=field, descending=descending)
        rows = list(qs[: size + 1])
        has_next = len(rows) > size
        rows = rows[:size]
        has_prev = after is not None
    if not has_prev:
        number = 1
    rest = params.copy()
    for name in ("after", "before", "p", "page"):
        rest.pop(name, None)
    next_query = prev_query = None
    if has_next and rows:
        next_query = _with(rest, after=cursor_text(rows[-1], field), p=number + 1)
    if has_prev and rows:
        prev_query = _with(rest, before=cursor_text(rows[0], field), p=max(1, number - 1))
    return KeysetPage(rows=rows, number=number, is_first=not has_prev, next_query=next_query,
                      prev_query=prev_query, first_query=rest.urlencode())


def capped_count(qs: QuerySet, size: int) -> dict:
    """The total a keyset pager shows, counted up to COUNT_CAP rows (``超过 10,000 条`` beyond:
    a COUNT over a million rows would cost more than the page), and the number of pages."""
    total = qs.order_by()[: COUNT_CAP + 1].count()
    shown = min(total, COUNT_CAP)
    return {"total": shown, "total_capped": total > COUNT_CAP, "page_count": max(-(-shown // size), 1)}


def capped_counts(querysets: dict[str, QuerySet], cap: int = COUNT_CAP) -> dict[str, int]:
    """Each queryset's row count, counted up to ``cap + 1`` rows (a LIMIT inside each COUNT), in
    ONE query: ``SELECT (SELECT COUNT(*) FROM (… LIMIT cap+1)), …``. A value above ``cap`` means
    "more than ``cap``". For tab badges (the application list's work queues): a grouped COUNT over
    every row in scope grows with the table (189–230 ms at 200,000 applications, issue 20)."""
    from django.db import connections

    counts: dict[str, int] = {}
    parts: list[str] = []
    params: list = []
    names: list[str] = []
    db = None
    for name, qs in querysets.items():
        inner = qs.order_by().values("pk")[: cap + 1]
        if inner.query.is_empty():
            counts[name] = 0
            continue
        db = inner.db
        sql, inner_params = inner.query.get_compiler(using=db).as_sql()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped_{len(parts)})")  # noqa: S608 - the compiler's SQL, bound params
        params.extend(inner_params)
        names.append(name)
    if parts:
        with connections[db].cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            counts.update(zip(names, cursor.fetchone(), strict=True))
    return {name: counts[name] for name in querysets}


def keyset_field(sort: Sort, allowed: dict[str, str], keyset: frozenset[str]) -> str | None:
    """The model field a sort pages on by keyset, or None when that sort keeps numbered pages
    (a joined column such as the person's name, or a nullable one: a NULL breaks a row comparison)."""
    return allowed[sort.key].lstrip("-") if sort.key in keyset else None


def _with(params: QueryDict, **extra: object) -> str:
    out = params.copy()
    for key, value in extra.items():
        out[key] = str(value)
    return out.urlencode()
