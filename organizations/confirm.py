"""A confirmation step for irreversible actions (issue 18), without JavaScript (CSP-friendly).

The first POST of a form renders a page naming what will happen (the amount, the people
affected) with the same fields hidden and a 确认 button; only the second POST, carrying
``confirmed=1``, acts. A view does::

    if not confirmed(request):
        return confirmation(request, title=..., lines=[...], confirm_label=..., back=url)
"""
from __future__ import annotations

from collections.abc import Sequence

from django.shortcuts import render

FIELD = "confirmed"


def confirmed(request) -> bool:
    return request.POST.get(FIELD) == "1"


def confirmation(request, *, title: str, lines: Sequence[str], confirm_label: str, back: str,
                 danger: bool = False, final: bool = True, people: Sequence[str] = (), amount=None, note: str = ""):
    hidden = [(key, value) for key in request.POST for value in request.POST.getlist(key)
              if key not in ("csrfmiddlewaretoken", FIELD)]
    return render(request, "confirm.html", {
        "title": title, "lines": lines, "confirm_label": confirm_label, "back": back, "danger": danger, "final": final,
        "hidden": hidden, "action": request.get_full_path(), "people": people, "amount": amount, "note": note,
    })
