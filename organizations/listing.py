"""Sorting and numbered pages shared by the list screens (issue 18).

``sort_order(request, allowed, default)`` reads ``?sort=<key>`` or ``?sort=-<key>`` against a
whitelist (key → model field path), so a URL can never order by an arbitrary column.
``page_window(page)`` gives the page numbers a pager shows (first, last, and two either side).
"""
from __future__ import annotations

from dataclasses import dataclass


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
