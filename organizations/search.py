"""One search term for every list and the navbar box (issue 18).

A caseworker types a name, a full ID number, its last four characters, or a claim, letter or
application number; :func:`parse` says which, and each list turns it into a filter with
:func:`person_filter` (and its own number lookups).

A full ID number never goes into a URL (PIPL: URLs end up in access logs and browser history):
search boxes POST to :class:`organizations.views.SearchGoView`, which keeps the number in the
session under a random token and redirects to the list with ``qid=<token>``; everything else is
an ordinary ``q`` GET parameter, so pages and sorting keep the search.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from django.db.models import Q

from beneficiaries import idnumber

from . import textinput

SESSION_KEY = "search_ids"
MAX_REMEMBERED = 20
CLAIM_NUMBER = re.compile(r"^BX(\d{4})-(\d{1,9})$", re.IGNORECASE)
LAST4 = re.compile(r"^\d{3}[\dX]$", re.IGNORECASE)


@dataclass(frozen=True)
class Term:
    """What was typed, classified. ``id_number`` is a valid full ID; ``last4`` its last four;
    ``text`` the raw text (a name or part of a document number)."""

    text: str
    id_number: str = ""
    last4: str = ""

    @property
    def claim_pk(self) -> int | None:
        match = CLAIM_NUMBER.match(self.text)
        return int(match.group(2)) if match else None

    @property
    def shown(self) -> str:
        """What the search box shows again: a full ID number masked."""
        return idnumber.mask(self.id_number) if self.id_number else self.text


def parse(raw: str | None) -> Term | None:
    text = textinput.CONTROL.sub("", raw or "").strip()[:60]  # a NUL would reach the database
    if not text:
        return None
    normal = idnumber.normalise(text)
    if len(normal) == 18:
        try:
            return Term(text=normal, id_number=idnumber.parse(normal).number)
        except idnumber.IdNumberError:
            pass
    if LAST4.match(normal):
        return Term(text=normal, last4=normal.upper())
    return Term(text=text)


def remember_id_number(session, number: str) -> str:
    """Keep a full ID number in the session; the token stands for it in URLs."""
    stored = dict(session.get(SESSION_KEY) or {})
    for token, value in stored.items():
        if value == number:
            return token
    token = secrets.token_urlsafe(9)
    stored[token] = number
    if len(stored) > MAX_REMEMBERED:
        stored = dict(list(stored.items())[-MAX_REMEMBERED:])
    session[SESSION_KEY] = stored
    return token


def term_from_request(request) -> Term | None:
    """The term of a list request: ``qid`` (a remembered full ID number) or ``q``."""
    token = request.GET.get("qid")
    if token:
        number = (request.session.get(SESSION_KEY) or {}).get(token)
        return Term(text=number, id_number=number) if number else None
    return parse(request.GET.get("q"))


def person_filter(term: Term, prefix: str = "") -> Q:
    """Rows whose person matches: the exact ID number, its last four, or the name (contains)."""
    if term.id_number:
        return Q(**{f"{prefix}id_number": term.id_number})
    if term.last4:
        return Q(**{f"{prefix}id_number__endswith": term.last4})
    return Q(**{f"{prefix}name__icontains": term.text})
