"""Issue 15, "one way to say who may do what": every URL pattern declares its permission
(organizations/permissions.py), the matrix in docs/security.md is the one the code enforces, and
each demo role gets exactly that matrix over HTTP, GET and POST, with real object ids of its own
district, of another district and of another agency; no refused request writes a row.

The walk is generated from the URLconf (``tests.test_scoping.project_routes``), so a URL added
tomorrow without a permission fails here.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from organizations import permissions
from organizations.permissions import PERMISSIONS, PERSONAS, PUBLIC, SIGNED_IN, declared, persona_holds
from tests.test_scoping import project_routes

# The Django admin has its own rule (is_staff and model permissions, administrators only);
# the API authenticates bearer tokens per operation (tests/api/test_auth.py), not sessions.
EXEMPT_PREFIXES = ("admin/", "api/")
DOC = Path(settings.BASE_DIR) / "docs" / "security.md"
START, END = "<!-- permission-matrix:start -->", "<!-- permission-matrix:end -->"


def _routes():
    return [r for r in project_routes() if not r.route.startswith(EXEMPT_PREFIXES)]


def _matrix_rows():
    return [(r.route, *declared(r.callback)) for r in _routes() if declared(r.callback)]


def test_every_url_pattern_declares_a_permission():
    missing = [str(r) for r in _routes() if declared(r.callback) is None]
    assert not missing, f"URL patterns without a declared permission (organizations/permissions.py): {missing}"
    known = {PUBLIC, SIGNED_IN, *PERMISSIONS}
    for r in _routes():
        get, _post = declared(r.callback)
        view_class = getattr(r.callback, "view_class", None)
        posts = list(getattr(view_class, "action_permissions", {}).values()) or [
            getattr(view_class, "post_permission", None) or get]
        assert {get, *posts} <= known, f"{r}: unknown permission {get} / {posts}"
    assert len(_routes()) >= 70, "the walk lost URL patterns"


def test_docs_security_md_holds_the_matrix_the_code_enforces():
    """docs/security.md between the markers is generated from the code; regenerate with
    ``python manage.py shell -c "from tests.organizations.test_permission_matrix import write_doc; write_doc()"``."""
    text = DOC.read_text(encoding="utf-8")
    assert START in text and END in text
    written = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert written == permissions.matrix_markdown(_matrix_rows()).strip(), (
        "docs/security.md's permission matrix disagrees with organizations/permissions.py: run write_doc()")


def write_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    _old, after = rest.split(END, 1)
    DOC.write_text(before + START + "\n" + permissions.matrix_markdown(_matrix_rows()) + END + after, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Over HTTP, with the demo
# --------------------------------------------------------------------------------------------

USERS = {"jingban 经办": "jingban", "shenhe 审核": "shenhe", "minzheng 认定(民政)": "minzheng",
         "tuijun 认定(退役军人)": "tuijun", "shenji 审计": "shenji", "admin 管理员": "admin", "anonymous": None}
CITY_LEVEL = {"shenji", "admin"}

# pattern name -> (model label, path to the district) for the first int parameter
OBJECTS = {
    "beneficiaries:person_detail": ("beneficiaries.Person", "hukou_district"),
    "beneficiaries:person_edit": ("beneficiaries.Person", "hukou_district"),
    "beneficiaries:person_reveal": ("beneficiaries.Person", "hukou_district"),
    "beneficiaries:certify": ("beneficiaries.Person", "hukou_district"),
    "beneficiaries:household_create": ("beneficiaries.Person", "hukou_district"),
    "beneficiaries:household_member_add": ("beneficiaries.Person", "hukou_district"),
    "beneficiaries:household_member_remove": ("beneficiaries.Person", "hukou_district"),
    "beneficiaries:revoke": ("beneficiaries.Certification", "person__hukou_district"),
    "beneficiaries:import_detail": ("beneficiaries.ImportBatch", "agency__district"),
    "beneficiaries:import_confirm": ("beneficiaries.ImportBatch", "agency__district"),
    "beneficiaries:import_cancel": ("beneficiaries.ImportBatch", "agency__district"),
    "beneficiaries:import_progress": ("beneficiaries.ImportBatch", "agency__district"),
    "beneficiaries:import_errors": ("beneficiaries.ImportBatch", "agency__district"),
    "claims:detail": ("claims.Claim", "district"),
    "claims:edit": ("claims.Claim", "district"),
    "claims:bill_edit": ("claims.Claim", "district"),
    "claims:attach": ("claims.Claim", "district"),
    "claims:attachment": ("claims.Claim", "district"),
    "claims:action": ("claims.Claim", "district"),
    "claims:bill": ("claims.Bill", "district"),
    "claims:ledger": ("beneficiaries.Person", "hukou_district"),
    "claims:batch": ("claims.PaymentBatch", "district"),
    "claims:batch_file": ("claims.PaymentBatch", "district"),
    "claims:resolve": ("claims.PaymentAdjustment", "bill__district"),
    "claims:import": ("claims.SettlementImport", "district"),
    "applications:create_from_warning": ("monitoring.EarlyWarning", "household__district"),
    "applications:detail": ("applications.Application", "district"),
    "applications:household": ("applications.Application", "district"),
    "applications:send": ("applications.Application", "district"),
    "applications:assess": ("applications.Application", "district"),
    "applications:gather": ("applications.Application", "district"),
    "applications:extra_bill": ("applications.Application", "district"),
    "applications:compute": ("applications.Application", "district"),
    "applications:decide": ("applications.Application", "district"),
    "applications:return": ("applications.Application", "district"),
    "applications:document_upload": ("applications.Application", "district"),
    "applications:document": ("applications.Application", "district"),
    "applications:receipt": ("applications.Application", "district"),
    "reports:letter": ("reports.Letter", "district"),
    "reports:letter_pdf": ("reports.Letter", "district"),
    "reports:letter_correct": ("reports.Letter", "district"),
    "reports:letter_delivery": ("reports.Letter", "district"),
    "reports:letter_receipt": ("reports.Letter", "district"),
    "monitoring:warning_detail": ("monitoring.EarlyWarning", "household__district"),
    "monitoring:warning_dismiss": ("monitoring.EarlyWarning", "household__district"),
}
# second int parameters: filled with a related object of the first
SECOND = {
    "bill_pk": lambda obj: obj.bills.values_list("pk", flat=True).first(),
    "attachment_pk": lambda obj: obj.attachments.values_list("pk", flat=True).first(),
    "member_pk": lambda obj: obj.pk,
    "doc": lambda obj: obj.documents.values_list("pk", flat=True).first(),
    "extra": lambda obj: obj.extra_bills.values_list("pk", flat=True).first(),
}
SLUGS = {"action": "decide", "kind": "csv", "slug": "fund"}
WRITE_APPS = ("organizations", "policies", "beneficiaries", "claims", "applications", "reports", "monitoring",
              "simulation", "audit")


def _row_counts() -> dict[str, int]:
    tables = set(connection.introspection.table_names())
    counts = {m._meta.label: m._default_manager.count() for label in WRITE_APPS
              for m in apps.get_app_config(label).get_models() if m._meta.db_table in tables}
    counts.pop("audit.AccessLog", None)  # reads are logged on purpose (and refused reads log nothing else)
    # Second-factor devices are the test login's scaffolding (tests/otp.py: force_login creates the
    # user's confirmed device) and the walker's own enrolment, not data of any scope; django-otp's
    # own tables, which they replaced, were never counted here.
    counts.pop("organizations.SecureTOTPDevice", None)
    return counts


def _name(route) -> str:
    for prefix in ("beneficiaries", "claims", "applications", "reports", "monitoring", "policies", "simulation", "audit"):
        if route.route.startswith(prefix + "/"):
            return f"{prefix}:{route.name}"
    return route.name or ""


def _url(route, obj=None, first_value: int = 1) -> str:
    params = route.params
    values: dict[str, str] = {}
    for i, (conv, name) in enumerate(params):
        if conv == "int":
            if i == 0:
                values[name] = str(obj.pk if obj is not None else first_value)
            else:
                extra = SECOND.get(name, lambda o: None)(obj) if obj is not None else None
                values[name] = str(extra or first_value)
        elif conv == "slug":
            values[name] = SLUGS.get(name, "x")
        else:
            values[name] = "x1"

    def fill(match):
        return values[match.group(2)]

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route.route)


def _objects(name: str, district_code: str):
    label, path = OBJECTS[name]
    model = apps.get_model(label)
    return model._default_manager.filter(**{f"{path}__code": district_code}).order_by("pk").first()


def _expected_permission(route, method: str) -> str:
    get, _ = declared(route.callback)
    if method == "get":
        return get
    view_class = getattr(route.callback, "view_class", None)
    actions = getattr(view_class, "action_permissions", None)
    if actions:
        return actions[SLUGS["action"]]
    return getattr(view_class, "post_permission", None) or get


# Allowed by the permission, then refused by the object's agency: a certifier revokes and
# certifies only the categories of their own agency (POLICY.md §2; proved below per agency).
AGENCY_LEVEL = {"beneficiaries:revoke", "beneficiaries:certify"}


def _not_served(client, method, url) -> bool:
    """Another district's object: 404, or a method the view does not answer, or a redirect to a page that is 404."""
    response = getattr(client, method)(url)
    if response.status_code in (404, 405):
        return True
    if response.status_code == 302 and not response["Location"].startswith(reverse("login")):
        return client.get(response["Location"]).status_code == 404
    return False


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.slow
def test_each_demo_role_gets_exactly_the_matrix(client):
    """Every demo user (README: caseworker, reviewer, both certifiers, auditor, administrator,
    anonymous) × every URL pattern × GET and POST: a permission the matrix does not give is 403
    (anonymous: the login page) and writes nothing; one it gives is served (not 403), and for a
    district user an object of **another district** (海淀) answers 404 and writes nothing."""
    call_command("seed_demo", stdout=io.StringIO())
    routes = [r for r in _routes() if r.name not in ("logout",)]
    User = get_user_model()
    wrong: list[str] = []
    before = _row_counts()
    for persona in PERSONAS:
        username = USERS[persona[0]]
        client.logout()
        if username:
            client.force_login(User.objects.get(username=username))
        for route in routes:
            name = _name(route)
            own = _objects(name, "110105") if name in OBJECTS else None
            other = _objects(name, "110108") if name in OBJECTS else None
            for method in ("get", "post"):
                perm = _expected_permission(route, method)
                allowed = persona_holds(persona, perm)
                if not allowed:
                    # forbidden: with the own district's object and another district's
                    for obj in (own, other) if name in OBJECTS else (None,):
                        response = getattr(client, method)(_url(route, obj))
                        ok = _is_login_redirect(response) if username is None else response.status_code == 403
                        if username is None and perm in (PUBLIC,):
                            ok = True
                        if not ok:
                            wrong.append(f"{persona[0]} {method.upper()} {_url(route, obj)} [{perm}]: "
                                         f"{response.status_code}, expected {'login' if username is None else 403}")
                    continue
                if method == "post":
                    continue  # an allowed POST may write: proved by each app's own tests
                response = client.get(_url(route, own))
                if (response.status_code == 403 and name not in AGENCY_LEVEL) or (username is None and perm != PUBLIC and not _is_login_redirect(response)):
                    wrong.append(f"{persona[0]} GET {_url(route, own)} [{perm}]: {response.status_code}, expected served")
                if other is not None and username not in CITY_LEVEL and username is not None:
                    for m in ("get", "post"):
                        if not persona_holds(persona, _expected_permission(route, m)):
                            continue
                        if not _not_served(client, m, _url(route, other)):
                            wrong.append(f"{persona[0]} {m.upper()} {_url(route, other)} (another district): "
                                         "served, expected 404")
    # another agency: each certifier, on a 朝阳 certification of a category their agency does not own
    from beneficiaries.models import Certification

    for username in ("minzheng", "tuijun"):
        user = User.objects.get(username=username)
        client.force_login(user)
        kind = user.staff_profile.agency.kind
        foreign = (Certification.objects.filter(person__hukou_district__code="110105", valid_until__isnull=True)
                   .exclude(category__agency_kind=kind).exclude(category__co_agency_kind=kind).first())
        assert foreign is not None
        for method in ("get", "post"):
            response = getattr(client, method)(reverse("beneficiaries:revoke", args=[foreign.pk]),
                                               {"until": "2025-01-01", "reason": "x", "confirmed": "1"})
            if response.status_code not in (403, 404):  # not offered to them (404) or refused
                wrong.append(f"{username} {method.upper()} revoke of another agency's certification: {response.status_code}")
    after = _row_counts()
    changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    assert not wrong, f"{len(wrong)} answers differ from the matrix:\n" + "\n".join(wrong[:80])
    assert not changed, f"refused requests wrote rows: {changed}"


# --------------------------------------------------------------------------------------------
# The two prefixes with their own rule, walked from the URLconf too
# --------------------------------------------------------------------------------------------

ADMIN_ROUTES = [r for r in project_routes() if r.route.startswith("admin/")
                and r.name not in {"login", "logout", "password_reset", "password_reset_done", "password_reset_confirm",
                                   "password_reset_complete", "view_on_site"}
                and not r.route.startswith(("admin/login", "admin/logout"))]
API_PUBLIC = {"openapi-json", "openapi-view", "letter_verify", "api-root"}
API_ROUTES = [r for r in project_routes() if r.route.startswith("api/") and r.name not in API_PUBLIC]


def test_the_admin_and_api_walks_see_their_patterns():
    assert len(ADMIN_ROUTES) >= 200, "the admin walk lost URL patterns"
    assert {r.name for r in API_ROUTES} >= {"eligibility", "settlement_post", "settlement_cancel", "certification_push",
                                           "certification_revoke"}


@pytest.mark.django_db
def test_every_admin_url_pattern_refuses_staff_who_are_not_administrators(client):
    """Issue 15: the Django admin's rule (is_staff + model permissions) stated once and proved for
    every admin URL pattern, GET and POST: a caseworker and a certifier are sent to the admin login
    and nothing is served or written."""
    from organizations import roles
    from tests.factories import make_staff

    caseworker = make_staff(roles.CASEWORKER, username="matrix-admin-caseworker")
    certifier = make_staff(roles.CERTIFIER, username="matrix-admin-certifier")
    before = _row_counts()
    admin_login = reverse("admin:login")
    for user in (caseworker, certifier):
        assert not user.is_staff
        client.force_login(user)
        for route in ADMIN_ROUTES:
            url = route.url(1)
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                assert response.status_code in (302, 404) and (
                    response.status_code == 404 or response["Location"].startswith(admin_login)), (
                    f"{user.username} {method.upper()} {url}: {response.status_code}")
    assert _row_counts() == before


@pytest.mark.django_db
def test_every_api_operation_refuses_a_request_without_a_valid_token(client):
    """Issue 15/16: every API operation but the public ones (schema, docs, letter verification)
    answers 401 without a token and with an unknown one, for every method it has (405 for the
    methods it has not), and writes nothing."""
    before = _row_counts()
    for route in API_ROUTES:
        url = route.url(1)
        for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer not-a-token"}):
            for method in ("get", "post"):
                response = getattr(client, method)(url, content_type="application/json", **headers)
                assert response.status_code in (401, 405), f"{method.upper()} {url} {headers}: {response.status_code}"
    assert _row_counts() == before


# --------------------------------------------------------------------------------------------
# The API: each operation declares its permission in organizations/permissions.py (API_PERMISSIONS)
# --------------------------------------------------------------------------------------------

API_START, API_END = "<!-- api-permission-matrix:start -->", "<!-- api-permission-matrix:end -->"
NINJA_OWN = {"openapi-json", "openapi-view", "api-root"}  # django-ninja's schema and docs pages


def _api_operations():
    """(URL pattern, method, permission, operation) for every operation of the API, from the URLconf:
    each API URL pattern is named after its operation (django-ninja), whose function declares it."""
    from api.api import api

    by_name = {op.view_func.__name__: op for _prefix, router in api._routers
               for pv in router.path_operations.values() for op in pv.operations}
    rows = []
    for route in project_routes():
        if not route.route.startswith("api/") or route.name in NINJA_OWN:
            continue
        op = by_name.get(route.name)
        assert op is not None, f"{route}: no API operation of that name"
        for method in op.methods:
            rows.append((route.route, method, getattr(op.view_func, "permission", None), op))
    return rows


def test_every_api_operation_declares_a_permission():
    from organizations.permissions import API_PERMISSIONS

    rows = _api_operations()
    assert len(rows) >= 9, "the API walk lost operations"
    missing = [f"{m} /{p}" for p, m, perm, _op in rows if perm not in {PUBLIC, *API_PERMISSIONS}]
    assert not missing, f"API operations without a declared permission (@api_requires): {missing}"


def test_docs_security_md_holds_the_api_matrix_the_code_enforces():
    text = DOC.read_text(encoding="utf-8")
    assert API_START in text and API_END in text
    written = text.split(API_START, 1)[1].split(API_END, 1)[0].strip()
    assert written == permissions.api_matrix_markdown([(p, m, perm) for p, m, perm, _op in _api_operations()]).strip(), (
        "docs/security.md's API matrix disagrees with the code: run write_api_doc()")


def write_api_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = permissions.api_matrix_markdown([(p, m, perm) for p, m, perm, _op in _api_operations()])
    if API_START not in text:
        text = text.replace(END, END + "\n\nThe machine API (bearer tokens, one client kind each):\n\n" + API_START + "\n" + API_END)
    before, rest = text.split(API_START, 1)
    _old, after = rest.split(API_END, 1)
    DOC.write_text(before + API_START + "\n" + table + API_END + after, encoding="utf-8")


def _api_world():
    """Two districts, a hospital and a civil-affairs system in each, a beneficiary in each, one
    settlement and one certification pushed in each district (so ids of the other district exist)."""
    from datetime import date

    from api import services as api_services
    from tests.api.conftest import settlement
    from tests.factories import AgencyFactory, CertificationFactory, DistrictFactory, InstitutionFactory, PersonFactory

    world = {}
    for key, code, name in (("own", "110105", "朝阳区"), ("other", "110108", "海淀区")):
        district = DistrictFactory(code=code, name=name, short_name=f"京{name[0]}")
        institution = InstitutionFactory(district=district, code=f"H{code}01", name=f"{name}医院")
        hospital, hospital_token = api_services.api_client_create(name=f"{name}HIS", institution=institution,
                                                                  rate_limit=10_000)
        agency = AgencyFactory(kind="civil_affairs", district=district, region=district.region)
        system, system_token = api_services.api_client_create(name=f"{name}民政", agency=agency, rate_limit=10_000)
        person = PersonFactory(hukou_district=district)
        CertificationFactory(person=person, agency=agency, valid_from=date(2022, 1, 1), document_ref=f"{code}-DOC")
        world[key] = {"district": district, "institution": institution, "person": person, "agency": agency,
                      "tokens": {"institution": hospital_token, "agency": system_token},
                      "settlement": settlement(person, institution, setl_id=f"S-{code}")}
    return world


def _api_request(client, method, pattern, token, w, *, target):
    """Call ``pattern`` with a well-formed request naming ``target``'s objects (own or other district)."""
    t = w[target]
    values = {"setl_id": t["settlement"]["setl_id"], "document_ref": f"{t['district'].code}-DOC"}
    url = "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: values[m.group(2)], pattern)
    bodies = {
        "api/v1/settlements": t["settlement"],
        "api/v1/certifications": {"certno": t["person"].id_number, "name": t["person"].name, "category": "minimum_living",
                                  "valid_from": "2024-01-01", "document_ref": f"{t['district'].code}-NEW"},
    }
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    if method == "GET":
        query = {"certno": t["person"].id_number, "on": "2024-06-01"} if pattern.endswith("eligibility") else {}
        return client.get(url, query, **headers)
    body = bodies.get(pattern) or ({"reason": "录错"} if pattern.endswith("/cancel") else
                                   {"until": "2024-12-31", "reason": "核查"})
    return client.post(url, body, content_type="application/json", **headers)


def _api_rows():
    """Rows of the product's apps and the API clients (the per-call ApiAccessLog is written on purpose)."""
    from api.models import ApiClient

    return {**_row_counts(), "api.ApiClient": ApiClient.objects.count()}


@pytest.mark.django_db
def test_each_api_client_kind_gets_exactly_the_api_matrix(client):
    """Issue 15 item 2, over HTTP for every API operation from the URLconf: a token of a client
    kind that does not hold the operation's permission is 403 with a well-formed request, and
    writes nothing; a kind that holds it is served; without a token 401; and with the objects
    (settlement number, certification reference) of **another district** the holder gets 404 and
    nothing is written."""
    from organizations.permissions import API_PERMISSIONS

    w = _api_world()
    # own objects exist in each district: settle and push once per district first
    for key in ("own", "other"):
        response = client.post("/api/v1/settlements", w[key]["settlement"], content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {w[key]['tokens']['institution']}")
        assert response.status_code == 201, response.content
    wrong = []
    for pattern, method, perm, _op in _api_operations():
        if perm == PUBLIC:
            continue
        for kind, token in w["own"]["tokens"].items():
            holds = kind in API_PERMISSIONS[perm].client_kinds
            before = _api_rows()
            response = _api_request(client, method, pattern, token, w, target="own")
            if not holds:
                if response.status_code != 403 or _api_rows() != before:
                    wrong.append(f"{kind} {method} /{pattern}: {response.status_code}, expected 403 and no write")
                continue
            if response.status_code in (401, 403):
                wrong.append(f"{kind} {method} /{pattern}: {response.status_code}, expected served")
            if "<" in pattern:  # an object id of another district: 404, nothing written
                before = _api_rows()
                response = _api_request(client, method, pattern, token, w, target="other")
                if response.status_code != 404 or _api_rows() != before:
                    wrong.append(f"{kind} {method} /{pattern} (another district): {response.status_code}, "
                                 "expected 404 and no write")
        before = _api_rows()
        response = _api_request(client, method, pattern, None, w, target="own")
        if response.status_code != 401 or _api_rows() != before:
            wrong.append(f"no token {method} /{pattern}: {response.status_code}, expected 401")
    assert not wrong, "\n".join(wrong)
