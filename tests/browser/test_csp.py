"""Content-Security-Policy (issue 15): every page type loads under the policy with no violation.

The policy (config.settings.base.CONTENT_SECURITY_POLICY) allows scripts and styles from our own
static files or with the response's nonce only: no inline ``style=""`` or ``on…=""`` attribute,
no nonce-less ``<script>``/``<style>``. Chromium reports each blocked item as a
``securitypolicyviolation`` event and a console error; both are collected on every page below
(lists, details, forms, admin, reports, letters, simulation, login, verification) and must be empty.
"""
from __future__ import annotations

import io
import re
from datetime import date

import pytest

from .conftest import pass_second_factor, requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + (e.sourceFile || "") + ":" + e.lineNumber
                    + " " + (e.sample || ""));
});
"""


@pytest.fixture
def csp_site(transactional_db, live_server):
    from django.core.management import call_command

    from tests.test_i18n import ensure_english_compiled

    ensure_english_compiled()
    call_command("seed_demo", only=["organizations", "policies", "beneficiaries", "claims", "applications", "monitoring"],
                 stdout=io.StringIO())
    return live_server


def _pages(base: str) -> list[str]:
    """One URL of every page type, with real objects of the demo."""
    from django.contrib.auth import get_user_model

    from applications.models import Application
    from beneficiaries.models import Person
    from claims.models import Bill, Claim
    from monitoring.models import EarlyWarning, RecalcRun
    from policies.models import Policy
    from reports.models import LetterKind
    from reports.services import letter_issue_from_content

    person = Person.objects.filter(household__isnull=False).first() or Person.objects.first()
    admin = get_user_model().objects.get(username="admin")
    letter = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=person.hukou_district, by=admin, person=person, content={
        "recipient_name": person.name, "recipient_masked_id": person.masked_id_number, "district_name": person.hukou_district.name,
        "decision": "approved", "amount": "100.00", "subject": "测试", "bills": [], "explanation": [], "clauses": [],
        "reason": "", "payment_route": "转账", "policy_document": "测试",
    })
    urls = [
        "/", "/search/?q=" + person.name[:1],
        "/beneficiaries/", f"/beneficiaries/persons/{person.pk}/", f"/beneficiaries/persons/{person.pk}/edit/",
        "/beneficiaries/persons/new/", "/beneficiaries/certifications/", "/beneficiaries/imports/", "/beneficiaries/premium-subsidy/",
        "/claims/", "/claims/new/", "/claims/bills/", "/claims/batches/", "/claims/imports/", "/claims/differences/",
        "/claims/reconciliation/", f"/claims/ledger/{person.pk}/",
        "/applications/", "/applications/new/",
        "/monitoring/", "/monitoring/runs/",
        "/reports/", "/reports/r/fund/", "/reports/r/beneficiaries/", "/reports/print/", f"/reports/letters/{letter.pk}/",
        "/policies/", "/simulation/", "/simulation/compare/", "/audit/access-log/",
        "/admin/", "/admin/beneficiaries/person/", f"/admin/beneficiaries/person/{person.pk}/change/",
        f"/admin/beneficiaries/person/{person.pk}/history/", "/admin/auth/user/add/", "/admin/policies/policy/",
        "/admin/django_celery_beat/periodictask/add/", "/admin/audit/accesslog/",
        f"/verify/{letter.verify_code}",
    ]
    claim, bill, application = Claim.objects.first(), Bill.objects.first(), Application.objects.first()
    policy, warning, run = Policy.objects.filter(is_current=True).first(), EarlyWarning.objects.first(), RecalcRun.objects.first()
    if claim:
        urls += [f"/claims/{claim.pk}/", f"/claims/{claim.pk}/edit/"]
    if bill:
        urls.append(f"/claims/bills/{bill.pk}/")
    if application:
        urls += [f"/applications/{application.pk}/", f"/applications/{application.pk}/household/"]
    if policy:
        urls += [f"/policies/{policy.pk}/", f"/policies/{policy.pk}/edit/", f"/admin/policies/policy/{policy.pk}/change/"]
    if warning:
        urls.append(f"/monitoring/warnings/{warning.pk}/")
    if run:
        urls.append(f"/monitoring/runs/{run.pk}/")
    regional = Policy.objects.filter(is_current=True, region__isnull=False).first()
    if regional:  # the simulation: a draft (rules editor) and a run (charts), done in-process
        from simulation import services as simulation

        draft = simulation.draft_create(base=regional, scenario="CSP", by=admin)
        run = simulation.run_create(draft=draft, period_start=date(2026, 1, 1), period_end=date(2026, 12, 31), by=admin)
        urls += [f"/simulation/drafts/{draft.pk}/", f"/simulation/drafts/{draft.pk}/edit/", f"/simulation/runs/{run.pk}/"]
    return [base + u for u in urls]


def test_every_page_type_loads_under_the_csp_without_a_violation(page, csp_site):
    base = csp_site.url
    console: list[str] = []
    page.add_init_script(LISTEN)
    page.on("console", lambda msg: console.append(f"{page.url}: {msg.text}") if "Content Security Policy" in msg.text else None)
    violations: dict[str, list[str]] = {}
    checked = []

    refused: list[str] = []

    def visit(url: str, *, allow_refusal: bool = False) -> None:
        response = page.goto(url)
        assert response is not None
        if response.status == 403 and allow_refusal:  # a case page the administrator may not use
            refused.append(url)
            return
        assert response.status < 400, f"{url}: {response.status}"
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, f"{url}: {policy!r}"
        page.wait_for_load_state("networkidle")
        found = page.evaluate("window.__csp || []")
        if found:
            violations[url] = found
        checked.append(url)

    visit(base + "/accounts/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "demo-admin-2026")
    page.click("button[type=submit]")
    pass_second_factor(page, "admin")
    for url in _pages(base):
        visit(url, allow_refusal=True)
    page.locator("form[action$='/accounts/logout/'] button").click()
    page.wait_for_load_state()
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", "jingban")
    page.fill("#id_password", "demo-jingban-2026")
    page.click("button[type=submit]")
    pass_second_factor(page, "jingban")
    for url in refused:  # the caseworker's forms and pages, as the caseworker
        visit(url)
    page.select_option("#language-select", "en")  # the language switch (was an inline onchange="")
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "en"
    assert len(checked) >= 45
    for kind in ("/simulation/runs/", "/simulation/drafts/", "/admin/policies/policy/", "/reports/letters/", "/claims/new/"):
        assert any(kind in url for url in checked), kind
    for editor in (r"/policies/\d+/edit/$", r"/simulation/drafts/\d+/edit/$"):  # the structured editor
        assert any(re.search(editor, url) for url in checked), editor
    assert violations == {}, violations
    assert console == [], console


def test_a_nonce_less_inline_script_would_be_reported(page, csp_site):
    """The listener works: a page that injects an inline style attribute and a script without
    the nonce gets violations (so an empty list above means something)."""
    page.add_init_script(LISTEN)
    page.goto(csp_site.url + "/accounts/login/")
    page.evaluate("""() => {
        const s = document.createElement("script"); s.textContent = "window.__ran = 1"; document.body.appendChild(s);
        const d = document.createElement("div"); d.setAttribute("style", "color:red"); document.body.appendChild(d);
    }""")
    page.wait_for_timeout(200)
    found = page.evaluate("window.__csp")
    assert page.evaluate("window.__ran") is None
    assert any(re.match(r"script-src", v) for v in found) and any(re.match(r"style-src", v) for v in found), found
