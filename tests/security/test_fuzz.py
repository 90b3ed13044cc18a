"""Issue 15, item "Input": a fuzz test over every form of the product and both imports.

The forms are not listed by hand: as every demo role (seed_demo: caseworker, reviewer, civil-affairs
and veterans certifiers, auditor, administrator) the test follows the links of the product from the
home page and collects every ``<form method="post">`` it reaches (the admin is left out: Django's
own, and its text fields are covered by ``organizations.textinput`` like every other form). Each
form is posted

- once per hostile value with **every** field set to it (full-width and Arabic-Indic ID numbers,
  NUL and other control characters, a 5,000-character string, 1e12 and a 30-digit number, the
  dates 0001-01-01 and 9999-12-31, emoji, RTL marks), and
- in a bounded, derandomised hypothesis run with **one** field hostile and the others as the page
  rendered them (so the hostile value reaches the service and the database),

always with ``confirmed=1`` (past the confirmation pages). No response may be a server error, and a
response that refuses the input (a form shown again, 4xx) must have written nothing: the row counts
of every model of the product are unchanged. The roster and settlement imports take rows built from
the same values: no exception but a row or file error, and an applied import writes exactly the rows
it reported as valid.

The 11 inputs of the audit (ID numbers in full-width and Arabic-Indic digits on registration, ID
search, claim intake, application intake and household members; NUL in the letter-correction
reason) are among the deterministic posts, and named one by one in test_hostile_input.py.
"""
from __future__ import annotations

import io
import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.apps import apps
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beneficiaries.models import Person

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

PRODUCT_APPS = ("organizations", "policies", "beneficiaries", "claims", "applications", "reports", "monitoring",
                "simulation", "audit")
USERS = ("jingban", "shenhe", "minzheng", "tuijun", "shenji", "admin")
MAX_PAGES_PER_USER = 30
SKIP_PREFIXES = ("/admin/", "/accounts/logout/", "/i18n/", "/static/", "/media/", "/api/", "/verify/")
SKIP_SUFFIXES = (".csv", ".pdf", ".xlsx", ".txt", "/pdf", "/receipt", "/progress/")
TEXTUAL = {"text", "search", "number", "date", "email", "tel", "url", "textarea", "hidden", "month", "datetime-local"}
KEEP = {"csrfmiddlewaretoken", "confirmed"}

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９ｘ")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def hostile_values(id_number: str) -> list[str]:
    return [
        id_number.translate(FULL_WIDTH), id_number.translate(ARABIC_INDIC), " " + id_number.lower() + "\u200f",
        "\x00", "名\x00字", "\x1b[2J\x07", "x" * 5000, "1e12", "9" * 30, "-1", "0001-01-01", "9999-12-31",
        "😀👨‍👩‍👧", "\u202e\u200f\u061cعربي", "' OR 1=1 --", "<script>alert(1)</script>", "NaN",
    ]


class Forms(HTMLParser):
    """Links and POST forms of one page: each form as (action, [(name, kind, default, options)])."""

    def __init__(self, base: str):
        super().__init__(convert_charrefs=True)
        self.base, self.links, self.forms = base, [], []
        self._form = None
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(urljoin(self.base, a["href"]))
        elif tag == "form" and (a.get("method") or "").lower() == "post":
            self._form = (urljoin(self.base, a.get("action") or self.base), [])
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if (kind == "radio" or "checked" in a) and not any(f[0] == a["name"] for f in self._form[1]):
                    self._form[1].append((a["name"], kind, a.get("value", "on"), []))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self._form[1].append((a["name"], kind, a.get("value", ""), []))
        elif tag == "select" and a.get("name"):
            self._select = (a["name"], "select", None, [])
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select[3].append(value)
            if "selected" in a or (self._select[2] in (None, "") and value):
                self._select = (self._select[0], "select", value, self._select[3])
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None and self._form is not None:
            self._form[1].append((self._select[0], "select", self._select[2] or "", self._select[3]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form[1].append((self._textarea[0], "textarea", self._textarea[1], []))
            self._textarea = None
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None


def _local(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.netloc not in ("", "testserver"):
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith(SKIP_PREFIXES) or parts.path.endswith(SKIP_SUFFIXES):
        return None
    return path


def _shape(path: str) -> str:
    return re.sub(r"\d+", "N", urlsplit(path).path)


def crawl(client) -> dict[tuple, tuple[str, list]]:
    """Every POST form reachable from the home page, one per (action shape, field names)."""
    found: dict[tuple, tuple[str, list]] = {}
    seen_shapes: dict[str, int] = {}
    queue, seen = deque(["/"]), {"/"}
    pages = 0
    while queue and pages < MAX_PAGES_PER_USER:
        path = queue.popleft()
        response = client.get(path)
        assert response.status_code < 500, f"GET {path}: {response.status_code}"
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        pages += 1
        parser = Forms("http://testserver" + path)
        parser.feed(response.content.decode())
        for action, fields in parser.forms:
            local = _local(action)
            if local is not None:
                found.setdefault((_shape(local), tuple(sorted(f[0] for f in fields))), (local, fields))
        for link in parser.links:
            local = _local(link)
            if local is None or local in seen:
                continue
            shape = _shape(local.split("?")[0]) + ("?" if "?" in local else "")
            if seen_shapes.get(shape, 0) >= 1:  # one of each kind of page: detail pages repeat
                continue
            seen_shapes[shape] = seen_shapes.get(shape, 0) + 1
            seen.add(local)
            queue.append(local)
    return found


def counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models()
            if m._meta.app_label in PRODUCT_APPS and not m._meta.proxy}


def defaults(fields) -> dict[str, str]:
    data = {name: value for name, _kind, value, _options in fields}
    data["confirmed"] = "1"
    return data


def post(client, action: str, data: dict[str, str], label: str) -> None:
    before = counts()
    response = client.post(action, data)
    assert response.status_code < 500, f"POST {action} {label}: {response.status_code}"
    refused = response.status_code >= 400 or (response.status_code == 200 and b"invalid-feedback" in response.content)
    if refused:
        after = counts()
        assert after == before, f"POST {action} {label} was refused but wrote: " + ", ".join(
            f"{k} {before[k]}→{after[k]}" for k in before if before[k] != after[k])


@pytest.fixture
def demo(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    return {u.username: u for u in get_user_model().objects.filter(username__in=USERS)}


def test_fuzz_every_form_of_the_product_answers_no_500_and_saves_nothing_half(client, demo):
    number = Person.objects.filter(hukou_district__code="110105").order_by("pk").values_list("id_number", flat=True)[0]
    values = hostile_values(number)
    targets: list[tuple[str, str, list]] = []  # (username, action, fields)
    for username in USERS:
        client.force_login(demo[username])
        forms = crawl(client)
        targets += [(username, action, fields) for action, fields in forms.values()]
    assert len({_shape(a) for _u, a, _f in targets}) >= 20, sorted({_shape(a) for _u, a, _f in targets})

    # every field of a form hostile at once, for the values that broke forms before
    for username, action, fields in targets:
        client.force_login(demo[username])
        for value in (values[0], values[1], values[3], values[6]):
            data = defaults(fields)
            data.update({name: value for name, kind, _v, _o in fields if name not in KEEP and kind in TEXTUAL | {"select"}})
            post(client, action, data, f"as {username}, every field = {value[:20]!r}")

    # one field hostile, the others as rendered (reaches services and the database)
    one_field = [(u, a, f, name) for u, a, f in targets for name, kind, _v, _o in f
                 if name not in KEEP and kind in TEXTUAL | {"select"}]

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(one_field), st.one_of(st.sampled_from(values), st.text(max_size=40)))
    def one(target, value):
        username, action, fields, name = target
        client.force_login(demo[username])
        post(client, action, defaults(fields) | {name: value}, f"as {username}, {name} = {value[:20]!r}")

    one()


def test_fuzz_the_roster_and_settlement_imports_answer_row_errors_and_write_only_valid_rows(demo):
    """Valid rows with one cell made hostile (or none): row errors, never an exception, and an
    applied import writes exactly the rows it reports created."""
    from datetime import date

    from beneficiaries import idnumber
    from beneficiaries.imports import COLUMNS, RosterFileError, RosterImport, read_roster
    from beneficiaries.models import Certification
    from claims import imports as settlements
    from claims.models import Bill
    from organizations.models import Agency, Institution

    person = Person.objects.filter(hukou_district__code="110105").order_by("pk").first()
    values = [v.replace(",", "").replace("\n", "").replace('"', "") for v in hostile_values(person.id_number)]
    agency = Agency.objects.get(code="110105-civil_affairs")
    institution = Institution.objects.filter(designated=True).order_by("pk").first()
    serial = iter(range(1, 10_000))
    spoil = st.one_of(st.none(), st.tuples(st.integers(0, 30), st.sampled_from(values)))

    def spoiled(row: list[str], how) -> str:
        if how is not None:
            row[how[0] % len(row)] = how[1]
        return ",".join(row)

    @settings(max_examples=15, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(spoil, min_size=1, max_size=5))
    def roster(spoils):
        lines = [spoiled([idnumber.make("110105", date(1981, 2, 3), next(serial)), "甲乙", "minimum_living",
                          "2024-01-01", "", "京朝民〔2024〕1号"], how) for how in spoils]
        data = ("\n".join([",".join(COLUMNS), *lines]) + "\n").encode("utf-8")
        try:
            parsed = read_roster(io.BytesIO(data), "fuzz.csv")
        except RosterFileError:
            return
        before = Certification.objects.count()
        plan = RosterImport(agency=agency, user=demo["minzheng"]).apply(parsed)
        assert Certification.objects.count() - before == plan.created, plan.counts_line()
        assert all(e.message for e in plan.errors)

    roster()

    @settings(max_examples=15, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(spoil, min_size=1, max_size=4), st.booleans())
    def settlement(spoils, apply_good_rows):
        lines = []
        for how in spoils:
            row = {"settlement_no": f"FZ{next(serial):05d}", "institution_code": institution.code,
                   "id_number": person.id_number, "visit_type": "inpatient", "admission_date": "2024-03-01",
                   "discharge_date": "2024-03-10", "diagnosis_code": "C34.9", "total_cost": "31000.00",
                   "policy_scope_cost": "30000.00", "basic_paid": "10000.00", "critical_paid": "0", "other_paid": "0",
                   "assistance_paid": "0", "referral_compliant": "1", "in_province": "1"}
            lines.append(spoiled([row.get(c, "") for c in settlements.COLUMNS], how))
        data = ("\n".join([",".join(settlements.COLUMNS), *lines]) + "\n").encode("utf-8")
        before = Bill.objects.count()
        try:
            report = settlements.import_settlements(data=data, file_name="fuzz.csv", by=demo["jingban"],
                                                    apply_good_rows=apply_good_rows)
        except settlements.SettlementFileError:
            assert Bill.objects.count() == before
            return
        written = Bill.objects.count() - before
        assert written == (report.created if report.applied else 0), report.counts_line()
        assert all(e.message for e in report.errors)

    settlement()
