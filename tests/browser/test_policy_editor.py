"""Issue 18 journey "the admin edits a rate in the structured editor", in a real browser: a wrong
value is refused naming the field in Chinese, the right one shows the diff against the version in
force, nothing is saved before confirming, and after confirming the policy page shows the new
version. Like every journey: no request leaves 127.0.0.1, no console error, and no page violates
the Content-Security-Policy. Screenshots: ``$JOURNEY_SCREENSHOTS`` (docs/screenshots/policy-editor-*).
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import requires_chromium
from .test_csp import LISTEN
from .test_journeys import journey_site, login, watched  # noqa: F401 - fixtures of the journeys

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

RATE = "#id_tiers__2__visit_classes__inpatient__rate"  # 第3档 (BJ-3) 住院 救助比例


def _no_csp_violation(page):
    assert page.evaluate("window.__csp || []") == [], page.url


def test_admin_edits_a_rate_in_the_structured_editor_sees_the_diff_and_confirms(watched, journey_site):  # noqa: F811
    from policies.models import Policy

    page = watched
    page.add_init_script(LISTEN)
    base = journey_site.url
    policy = Policy.objects.get(code="beijing-2023", is_current=True)
    login(page, base, "admin", "demo-admin-2026")
    page.goto(f"{base}/policies/{policy.pk}/")
    page.click("#edit-structured")
    expect(page.locator("h1")).to_contain_text("修改政策参数")
    expect(page.locator("#edit-json")).to_have_text("编辑JSON")
    expect(page.locator(RATE)).to_have_value("0.85")
    _no_csp_violation(page)

    page.fill(RATE, "1.5")
    page.fill("#id_new_effective_from", "2027-01-01")
    page.fill("#id_change_note", "第3档住院救助比例提高到90%")
    page.click("#editor-preview")
    expect(page.locator("#editor-errors")).to_contain_text("第3档 住院 救助比例：必须是0到1之间的比例")
    expect(page.locator(RATE)).to_have_value("1.5")  # what was typed stays, to correct
    page.shot("policy-editor-1-error-names-the-field")

    page.fill(RATE, "0.90")
    page.click("#editor-preview")
    expect(page.locator("h1")).to_contain_text("确认修改")
    row = page.locator("#diff tbody tr")
    expect(row).to_have_count(1)
    expect(row.first).to_contain_text("第3档 住院 救助比例")
    expect(row.first).to_contain_text("0.85（85%）")
    expect(row.first).to_contain_text("0.90（90%）")
    expect(page.locator("#confirm-what")).to_contain_text("2027-01-01")
    _no_csp_violation(page)
    page.shot("policy-editor-2-diff-before-saving")
    assert Policy.objects.filter(code="beijing-2023").count() == 1  # nothing saved before confirming

    page.click("#editor-confirm")
    expect(page.locator(".alert-success")).to_contain_text("已保存为新版本")
    new = Policy.objects.get(code="beijing-2023", is_current=True)
    assert new.version == 2 and new.rules["tiers"][2]["visit_classes"]["inpatient"]["rate"] == "0.90"
    assert page.url.endswith(f"/policies/{new.pk}/")
    expect(page.locator(".text-muted").first).to_contain_text("v2")
    expect(page.locator("body")).to_contain_text("90%")
    expect(page.locator("body")).to_contain_text("第3档住院救助比例提高到90%")
    _no_csp_violation(page)
    page.shot("policy-editor-3-new-version")
