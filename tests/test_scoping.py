"""Scoping harness: every URL of the project is behind login, and nobody sees outside their scope.

It walks ``get_resolver()``, so a URL added tomorrow is checked without anyone editing this file.
The app engineers test their own objects in detail with :func:`assert_hidden_from`::

    from tests.test_scoping import assert_hidden_from

    def test_bill_of_another_district_is_hidden(client, other_caseworker):
        bill = BillFactory()
        assert_hidden_from(client, other_caseworker, reverse("claims:detail", args=[bill.pk]))
"""
from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from organizations import roles
from organizations.models import Agency, AgencyKind, District, StaffProfile
from tests.factories import UserFactory

PROJECT_APPS = ("organizations", "policies", "beneficiaries", "claims", "applications", "reports", "monitoring")

# Reachable without login, on purpose: health checks, the login itself, the language switch, and the
# public letter-verification page (a citizen or bank checks a decision letter's authenticity).
PUBLIC_NAMES = {"healthz", "login", "logout", "set_language"}
# api/: bearer tokens, not sessions; tests/api/test_auth.py holds every API operation to 401
# without a token (except the OpenAPI document, its docs and letter verification, public by design).
PUBLIC_PREFIXES = ("verify/", "i18n/", "admin/", "static/", "media/", "__debug__/", "api/")

DETAIL_VALUES_PER_URL = 8

# Every case-work role, so only the scope stops the harness users. Not the administrator role:
# its system-wide operations (starting a city-wide recalculation, ...) are deliberately unscoped.
CASE_ROLES = [roles.CASEWORKER, roles.REVIEWER, roles.CERTIFIER, roles.AUDITOR]


def assert_hidden_from(client, user, url: str, *, method: str = "get", data: dict | None = None):
    """``user`` must get 404 at ``url``: another district's object is not found, not forbidden,
    so its existence does not leak. Returns the response for further checks."""
    client.force_login(user)
    response = getattr(client, method)(url, data or {})
    assert response.status_code == 404, (
        f"{method.upper()} {url} as {user.username}: expected 404 (outside the user's scope), "
        f"got {response.status_code}"
    )
    return response


@dataclass(frozen=True)
class Route:
    route: str  # e.g. "beneficiaries/persons/<int:pk>/"
    name: str | None
    callback: object

    @property
    def params(self) -> list[tuple[str, str]]:
        return re.findall(r"<(?:(\w+):)?(\w+)>", self.route)

    @property
    def public(self) -> bool:
        return (self.name in PUBLIC_NAMES) or self.route.startswith(PUBLIC_PREFIXES)

    def url(self, value: int | str = 1) -> str:
        def fill(match: re.Match) -> str:
            conv = match.group(1) or "str"
            if conv == "int":
                return str(value)
            if conv == "uuid":
                return str(uuid.UUID(int=value if isinstance(value, int) else 1))
            return "x" + str(value)

        path = re.sub(r"<(?:(\w+):)?(\w+)>", fill, self.route)
        return "/" + path.lstrip("^").rstrip("$").replace("\\", "")

    def __str__(self) -> str:
        return f"/{self.route} ({self.name})"


def project_routes() -> list[Route]:
    routes: list[Route] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                routes.append(Route(prefix + str(p.pattern), p.name, p.callback))

    walk(get_resolver().url_patterns, "")
    # regex patterns with unnamed groups cannot be filled; they are Django's own (static, media)
    return [r for r in routes if not re.search(r"\((?!\?P)", r.route)]


def _login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


ROUTES = [r for r in project_routes() if not r.public]


def test_the_harness_sees_every_app():
    """If this fails, the walk above lost URLs and the checks below prove nothing."""
    prefixes = {r.route.split("/", 1)[0] for r in ROUTES}
    assert {"beneficiaries", "claims", "applications", "reports", "monitoring", "policies", "simulation"} <= prefixes
    assert any(r.name == "home" for r in ROUTES)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_url_requires_login(client, route):
    """Anonymous GET and POST are sent to the login page (or refused), never served."""
    url = route.url(1)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert _login_redirect(response) or response.status_code in (403, 405), (
            f"anonymous {method.upper()} {url} answered {response.status_code}: this URL forgot LoginRequiredMixin"
        )


def _staff_without_profile():
    user = UserFactory(username="no-profile-user")
    user.groups.add(*Group.objects.filter(name__in=CASE_ROLES))
    return user


def _staff_of_an_empty_district():
    """A caseworker of a district that holds no demo data, with every case role, so only scope stops them."""
    district = District.objects.get(code="110105")
    empty, _ = District.objects.get_or_create(
        code="110119", defaults={"region": district.region, "name": "延庆区", "short_name": "京延"})
    agency, _ = Agency.objects.get_or_create(
        code="110119-medical_security",
        defaults={"kind": AgencyKind.MEDICAL_SECURITY, "name": "延庆区医疗保障局", "region": district.region, "district": empty})
    user = UserFactory(username="empty-district-user")
    user.groups.add(*Group.objects.filter(name__in=CASE_ROLES))
    StaffProfile.objects.create(user=user, agency=agency, district=empty)
    return user


def _markers() -> set[str]:
    """Strings that only appear on a page that shows a person or a bill of the demo districts."""
    from beneficiaries.models import Person
    from claims.models import Bill

    markers = set()
    for name, masked in ((p.name, p.masked_id_number) for p in Person.objects.all()):
        markers.update({name, masked} if len(name) >= 2 else {masked})
    markers.update(Bill.objects.values_list("settlement_no", flat=True))
    return markers


def _candidate_values(route: Route) -> list[int]:
    """Primary keys worth trying for a URL with int parameters: the view's model if it declares
    one, otherwise every model of the URL's app (a few of each)."""
    view_class = getattr(route.callback, "view_class", None)
    model = getattr(view_class, "model", None) or getattr(getattr(view_class, "queryset", None), "model", None)
    app_label = route.route.split("/", 1)[0]
    models = [model] if model else (apps.get_app_config(app_label).get_models() if app_label in PROJECT_APPS else [])
    tables = set(connection.introspection.table_names())
    values: list[int] = []
    for m in models:
        if m._meta.db_table in tables:
            values.extend(m._default_manager.order_by("pk").values_list("pk", flat=True)[:4])
    return sorted(set(v for v in values if isinstance(v, int)))[:DETAIL_VALUES_PER_URL] or [1]


def _content(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _project_row_counts() -> dict[str, int]:
    tables = set(connection.introspection.table_names())
    counts = {
        m._meta.label: m._default_manager.count()
        for label in PROJECT_APPS for m in apps.get_app_config(label).get_models()
        if m._meta.db_table in tables
    }
    # Second-factor devices are the test login's scaffolding (tests/otp.py: force_login creates the
    # user's confirmed device) and the walker's own enrolment, not data of any scope; django-otp's
    # own tables, which they replaced, were never counted here.
    counts.pop("organizations.SecureTOTPDevice", None)
    return counts


@pytest.mark.django_db
@pytest.mark.slow
def test_users_outside_the_scope_see_nothing_on_any_page(client):
    """With the whole demo loaded (all apps, three districts), a user without a staff profile and
    a caseworker of a district with no data open every URL (every int parameter tried with real
    primary keys): no page shows a demo person's name, masked ID number or bill number, none
    crashes, and their POSTs change no row."""
    call_command("seed_demo", stdout=io.StringIO())
    markers = _markers()
    assert markers, "the demo holds no persons: the check below would prove nothing"
    users = [_staff_without_profile(), _staff_of_an_empty_district()]
    before = _project_row_counts()
    failures: list[str] = []
    client.raise_request_exception = False
    for user in users:
        client.force_login(user)
        for route in ROUTES:
            values = _candidate_values(route) if route.params else [1]
            for value in values:
                url = route.url(value)
                for method in ("get", "post"):
                    response = getattr(client, method)(url)
                    if response.status_code >= 500:
                        failures.append(f"{user.username} {method.upper()} {url}: {response.status_code}")
                        continue
                    leaked = sorted(m for m in markers if m in _content(response))[:3]
                    if leaked:
                        failures.append(f"{user.username} {method.upper()} {url}: shows {leaked}")
                if not client.session.get("_auth_user_id"):  # a view logged us out: log back in
                    client.force_login(user)
    after = _project_row_counts()
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not failures, "out-of-scope access:\n" + "\n".join(failures)
    assert not changed, f"POSTs by out-of-scope users changed rows: {changed}"
