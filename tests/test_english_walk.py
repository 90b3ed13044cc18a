"""English is complete (issue 18): every page a role can reach from the dashboard, in English, shows
no Chinese outside data — names, addresses, institutions, document numbers and the policy
documents' own words (tier labels, notes, clause references) — and outside <code> (file column
names of the import contracts). Explanations are rendered in the reader's language
(policies.explain), so their labels and phrases are checked too.

The walk follows same-site links breadth-first from ``/`` (at most two pages per URL shape, 150
pages per role), the way a person clicks through; downloads, admin and sign-out are left out.
"""
from __future__ import annotations

import collections
import io
import re
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
ALLOWED = {"简体中文", "是", "否"}  # the language switcher names Chinese in Chinese; 是/否 are import values
# Clause references (七, 六(三)): the documents' own numbering, cited as the documents print it.
CLAUSE_NUMERALS = re.compile(r"^[一二三四五六七八九十百]+$")
SKIP = re.compile(r"^/(admin|accounts/logout|media|static|i18n)|\.(pdf|xlsx|csv|zip)$|/pdf$|/file\.|export|download|reveal")
ROLES = ("jingban", "shenhe", "minzheng", "shenji", "admin")


def _strings(value):
    if isinstance(value, str):
        if HAN.search(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def data_strings() -> list[str]:
    """Every Chinese text the users typed or imported (char/text columns without choices) and the
    policy documents' own words; longest first so a name is removed before its parts."""
    from policies.models import Policy

    out: set[str] = set()
    for model in apps.get_models():
        fields = [f.name for f in model._meta.concrete_fields
                  if isinstance(f, models.CharField | models.TextField) and not f.choices]
        if fields:
            for row in model._default_manager.values_list(*fields)[:5000]:
                out.update(str(v) for v in row if v and HAN.search(str(v)))
    for rules in Policy.objects.values_list("rules", flat=True):
        out.update(_strings(rules))
    # the file contracts' column names (imports and the bank file): other systems depend on them
    from beneficiaries.imports import CHINESE_HEADERS as ROSTER_HEADERS
    from claims.imports import CHINESE_HEADERS as SETTLEMENT_HEADERS
    from claims.payments import HEADER as BANK_HEADER

    out.update(_strings([list(ROSTER_HEADERS), list(SETTLEMENT_HEADERS), list(BANK_HEADER)]))
    if isinstance(SETTLEMENT_HEADERS, dict):
        out.update(_strings(list(SETTLEMENT_HEADERS.values())))
    return sorted(out, key=len, reverse=True)


class PageText(HTMLParser):
    """Visible text (and titles, placeholders, labels) of a page, without script, style and code."""

    HIDDEN = {"script", "style", "code", "kbd", "samp"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.HIDDEN:
            self.hidden += 1
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        self.parts += [attrs[k] for k in ("title", "placeholder", "aria-label", "alt") if attrs.get(k)]
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def shape(url: str) -> str:
    return re.sub(r"\d+", "N", url.split("?")[0])


def walk(username: str, data: list[str], limit: int = 150) -> tuple[set[str], dict[str, set[str]]]:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    seen: set[str] = set()
    shapes: collections.Counter[str] = collections.Counter()
    queue = collections.deque(["/"])
    found: dict[str, set[str]] = collections.defaultdict(set)
    while queue and len(seen) < limit:
        url = queue.popleft()
        if url in seen or shapes[shape(url)] >= 2:
            continue
        seen.add(url)
        shapes[shape(url)] += 1
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        page = PageText()
        page.feed(response.content.decode())
        text = "\n".join(page.parts)
        for value in data:
            if value in text:
                text = text.replace(value, " ")
        for run in HAN.findall(text):
            if run not in ALLOWED and not CLAUSE_NUMERALS.match(run):
                found[run].add(url)
        queue.extend(href.split("#")[0] for href in page.links
                     if href.startswith("/") and not SKIP.search(href.split("?")[0]))
    return seen, found


@pytest.fixture
def demo_data():
    call_command("seed_demo", stdout=io.StringIO())


@pytest.mark.parametrize("username", ROLES)
def test_every_page_in_english_shows_no_chinese_outside_data(demo_data, username):
    seen, found = walk(username, data_strings())
    assert len(seen) > 10, seen  # the walk reached the role's pages
    if username == "admin":  # the structured policy editor, on a policy and on a simulation draft
        assert {"/policies/N/edit/", "/simulation/drafts/N/edit/"} <= {shape(url) for url in seen}, sorted(seen)
    report = {run: sorted(urls)[:3] for run, urls in sorted(found.items(), key=lambda kv: -len(kv[1]))}
    assert not report, f"untranslated on {username}'s pages: {report}"


def test_explanations_are_rendered_in_the_readers_language():
    """The engine's stored lines (Chinese, as letters print them) shown in English on screen:
    labels by key, reasons and categories from the catalogue, figures and clauses unchanged."""
    from django.utils import translation

    from policies.explain import localize

    lines = [{"key": "category", "label": "救助对象类别", "value": "特困人员", "clause": "京 五(一)"},
             {"key": "burden", "label": "政策范围内个人负担", "value": "20000.00", "clause": "京 六(一)"},
             {"key": "bucket:inpatient", "label": "年度救助限额（住院及门诊特殊疾病）",
              "value": "限额 160000.00；剩余 160000.00 → 143000.00", "clause": "京 六(一)3"},
             {"key": "reason:cap_limited", "label": "说明", "value": "受年度救助限额限制", "clause": ""}]
    with translation.override("en"):
        shown = localize(lines)
    assert [line["label"] for line in shown] == [
        "Beneficiary category", "Personal burden within policy scope",
        "Annual assistance cap (Inpatient and outpatient special diseases)", "Note"]
    assert shown[2]["value"] == "cap 160000.00; room 160000.00 → 143000.00"
    assert shown[3]["value"] == "Limited by the annual cap"
    assert [line["clause"] for line in shown] == [line["clause"] for line in lines]
    assert not HAN.search(" ".join(line["label"] + line["value"] for line in shown).replace("特困人员", ""))
    with translation.override("zh-hans"):
        assert localize(lines) == lines  # Chinese (and every letter) unchanged


def test_the_explanation_catalogue_lists_every_engine_word():
    """policies/explain_catalogue.py is generated from the engine's vocabulary: regenerate it
    (python -m policies.explain) when the engine gains a word."""
    from pathlib import Path

    from policies import explain

    path = Path(explain.__file__).with_name("explain_catalogue.py")
    assert path.read_text(encoding="utf-8") == explain.catalogue_source()
