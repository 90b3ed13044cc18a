"""In a real browser: an administrator copies Beijing's policy to a draft, raises BJ-3's inpatient
cap to 200,000 in the structured editor (diff, then confirm), simulates the demo year, reads the result page and opens its PDF."""
import io
import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import requires_chromium
from .test_login_dashboard import login

pytestmark = [pytest.mark.browser, requires_chromium]
SHOTS = os.environ.get("SIMULATION_SCREENSHOTS")  # a directory: save what the test saw, to look at


@pytest.fixture
def simulation_site(transactional_db, live_server):
    from django.core.management import call_command

    from tests.test_i18n import ensure_english_compiled

    ensure_english_compiled()
    _reference_data()
    call_command("seed_demo", only=["organizations", "policies", "beneficiaries", "claims", "applications"],
                 stdout=io.StringIO())
    return live_server


def _reference_data():
    """Categories and policy presets (data migrations): after another browser test the database may
    have been flushed without them being restored (tests/serialized_rollback.py)."""
    import importlib

    from django.apps import apps

    from beneficiaries.models import Category
    from policies.models import Policy
    from policies.services import preset_sync

    if not Category.objects.exists():
        importlib.import_module("beneficiaries.migrations.0002_categories").load(apps, None)
    if not Policy.objects.exists():
        preset_sync()


def _shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


def test_administrator_simulates_a_draft_and_opens_the_pdf(page, simulation_site):
    base = simulation_site.url
    login(page, base, "admin", "demo-admin-2026")
    page.goto(base + "/simulation/")
    page.select_option("#id_base", page.locator("#id_base option", has_text="京医保发").first.get_attribute("value"))
    page.fill("#id_scenario", "BJ-3 住院限额 20 万")
    page.click("#create-draft")
    expect(page.locator("h1")).to_contain_text("BJ-3 住院限额 20 万")
    expect(page.locator("h1 .badge")).to_contain_text("草拟")

    # the structured editor (issue 19: "changes ... in the structured editor"): 第3档 = BJ-3
    page.click("#edit-structured")
    cap = "#id_tiers__2__buckets__inpatient__cap"
    expect(page.locator(cap)).to_have_value("160000.00")
    page.fill(cap, "200000")
    page.click("#editor-preview")
    expect(page.locator("#diff tbody tr")).to_have_count(1)
    expect(page.locator("#diff")).to_contain_text("第3档 住院 封顶线")
    expect(page.locator("#diff")).to_contain_text("160,000.00")
    expect(page.locator("#diff")).to_contain_text("200,000.00")
    _shot(page, "draft-diff.png")
    page.click("#editor-confirm")
    expect(page.locator(".alert-success")).to_contain_text("草拟规则已保存")
    assert json.loads(page.input_value("#id_rules"))["tiers"][2]["buckets"]["inpatient"]["cap"] == "200000.00"
    expect(page.locator("body")).to_contain_text("200,000.00")
    _shot(page, "draft.png")

    page.fill("#id_period_start", "2024-01-01")
    page.fill("#id_period_end", "2024-12-31")
    page.click("#start-run")
    expect(page.locator("h1")).to_contain_text("测算结果")
    expect(page.locator("#sim-totals")).to_be_visible(timeout=60_000)  # the progress bar gives way to the result
    expect(page.locator("#sim-totals")).to_contain_text("现行政策救助总额")
    expect(page.locator("#sim-cells tbody tr").first).to_be_visible()
    expect(page.locator("#month-chart")).to_be_visible()
    _shot(page, "run.png")

    href = page.get_attribute("#download-pdf", "href")
    response = page.request.get(base + href)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF")
    if SHOTS:
        (Path(SHOTS) / "run.pdf").write_bytes(body)
