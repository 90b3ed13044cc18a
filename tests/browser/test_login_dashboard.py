"""In a real browser: the demo caseworker logs in, sees the dashboard, and switches to English."""
import re

import pytest
from playwright.sync_api import expect

from .conftest import pass_second_factor, requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]


def login(page, base_url, username, password):
    page.goto(base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    pass_second_factor(page, username)


def test_caseworker_logs_in_and_sees_the_dashboard(page, demo_site):
    page.goto(demo_site.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/"))
    expect(page.locator("h2")).to_have_text("工作人员登录")  # Chinese although the browser asks for English

    login(page, demo_site.url, "jingban", "demo-jingban-2026")

    expect(page).to_have_url(demo_site.url + "/")
    expect(page.locator("h1")).to_contain_text("王静，您好")
    expect(page.locator(".scope-label")).to_have_text("朝阳区")
    expect(page.locator(".navbar")).to_contain_text("北京市朝阳区医疗保障局")
    expect(page.get_by_role("link", name="救助对象").first).to_be_visible()


def test_wrong_password_keeps_the_user_on_the_login_page(page, demo_site):
    login(page, demo_site.url, "jingban", "not-the-password")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator(".alert, .invalid-feedback, .alert-block").first).to_be_visible()


def test_switch_to_english_and_back(page, demo_site):
    login(page, demo_site.url, "jingban", "demo-jingban-2026")
    expect(page.locator("h1")).to_contain_text("您好")

    page.select_option("#language-select", "en")
    expect(page.locator("h1")).to_contain_text("Hello, 王静")
    expect(page.locator(".navbar")).to_contain_text("Dashboard")
    expect(page.locator(".navbar")).to_contain_text("Sign out")

    page.reload()  # the choice sticks (language cookie)
    expect(page.locator(".navbar")).to_contain_text("Dashboard")

    page.select_option("#language-select", "zh-hans")
    expect(page.locator(".navbar")).to_contain_text("工作台")
