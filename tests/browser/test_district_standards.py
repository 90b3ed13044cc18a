"""In a real browser (京 七, issue 13): the administrators of 朝阳 and 海淀 each give their district a
tilted-assistance standard (区级标准) in the admin; the policy page lists both; bills of each district
are computed and explained with their own standard, citing the district's document.

Screenshots go to docs/screenshots/district-standards-*.png (set SCREENSHOTS=0 to skip writing them).
"""
from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import pass_second_factor, requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shot(page, name: str) -> None:
    if os.environ.get("SCREENSHOTS", "1") != "0":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"district-standards-{name}.png"), full_page=True)


def login(page, base_url, username, password):
    page.goto(base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    pass_second_factor(page, username)


def district_admin(code: str, username: str):
    from organizations import roles
    from organizations.models import District
    from tests.factories import make_staff
    from tests.otp import confirmed_device

    user = make_staff(roles.ADMINISTRATOR, district=District.objects.get(code=code), username=username)
    user.is_staff = True
    user.set_password("district-admin-2026")
    user.save()
    confirmed_device(user)  # administrators pass the second factor (organizations.twofactor)
    return user


def set_standard(page, base_url, *, doc: str, threshold: str, rate: str):
    page.goto(base_url + "/admin/policies/districtpolicy/add/")
    options = page.locator("#id_district option").all_inner_texts()
    assert len([o for o in options if o.strip("-").strip()]) == 1, options  # only their own district
    page.select_option("#id_district", index=1)
    page.fill("#id_policy_code", "beijing-2023")
    page.fill("#id_document_no", doc)
    page.fill("#id_clause", "三(二)")
    page.fill("#id_effective_from", "2023-01-01")
    page.fill("#id_tilted_threshold", threshold)
    page.fill("#id_tilted_rate", rate)
    page.click("input[name=_save]")
    expect(page.locator(".messagelist, .success").first).to_be_visible()


def referred_bill_for(district_code: str, settlement_no: str):
    from beneficiaries.models import Category, Certification
    from claims import services
    from organizations import roles
    from organizations.models import District
    from tests.factories import AgencyFactory, InstitutionFactory, PersonFactory, make_staff

    district = District.objects.get(code=district_code)
    person = PersonFactory(hukou_district=district)
    cat = Category.objects.get(code="minimum_living")
    Certification.objects.create(person=person, category=cat, valid_from=date(2022, 1, 1),
                                 agency=AgencyFactory(kind=cat.agency_kind, district=district, region=district.region))
    institution = InstitutionFactory(district=district)
    scope = Decimal("30000.00")
    claim = services.claim_create(
        person=person, district=district, applied_on=date(2023, 4, 1), by=make_staff(roles.CASEWORKER, district=district),
        bills=[{"institution": institution, "settlement_no": settlement_no, "visit_type": "inpatient",
                "admission_date": date(2023, 3, 1), "discharge_date": date(2023, 3, 10), "diagnosis_code": "C34.9",
                "diagnosis_name": "肺恶性肿瘤", "total_cost": scope, "policy_scope_cost": scope,
                "basic_paid": Decimal("10000.00"), "critical_paid": Decimal("0.00"), "other_paid": Decimal("0.00"),
                "referral_compliant": True, "in_province": True}],
        payee_account="6222 **** 1234")
    return claim.bills.get()


def test_jing_7_district_administrators_set_their_own_tilted_standard_in_the_browser(page, demo_site):
    from policies.models import DistrictPolicy, Policy

    district_admin("110105", "chaoyang-admin")
    district_admin("110108", "haidian-admin")

    login(page, demo_site.url, "chaoyang-admin", "district-admin-2026")
    set_standard(page, demo_site.url, doc="京朝医保发〔2023〕5号", threshold="1000.00", rate="0.50")
    shot(page, "1-chaoyang-saved")
    page.context.clear_cookies()

    login(page, demo_site.url, "haidian-admin", "district-admin-2026")
    set_standard(page, demo_site.url, doc="京海医保发〔2023〕9号", threshold="2000.00", rate="0.30")
    assert DistrictPolicy.objects.count() == 2

    policy = Policy.objects.get(code="beijing-2023", is_current=True)
    page.context.clear_cookies()
    login(page, demo_site.url, "admin", "demo-admin-2026")
    page.goto(demo_site.url + f"/policies/{policy.pk}/")
    section = page.locator("#district-standards")
    expect(section).to_contain_text("区级标准")
    expect(section).to_contain_text("京朝医保发〔2023〕5号 三(二)")
    expect(section).to_contain_text("京海医保发〔2023〕9号 三(二)")
    section.scroll_into_view_if_needed()
    shot(page, "2-policy-page")

    chaoyang = referred_bill_for("110105", "CY-0001")
    haidian = referred_bill_for("110108", "HD-0001")
    # burden 20000, 85% = 17000; 朝阳 (3000 − 1000) × 50% = 1000; 海淀 (3000 − 2000) × 30% = 300
    assert (chaoyang.tilted, haidian.tilted) == (Decimal("1000.00"), Decimal("300.00"))

    page.goto(demo_site.url + f"/claims/bills/{chaoyang.pk}/")
    expect(page.locator("body")).to_contain_text("京朝医保发〔2023〕5号 三(二)")
    expect(page.locator("body")).to_contain_text("1000.00（年度累计个人负担超过 1000.00 元部分按 50%）")
    shot(page, "3-chaoyang-bill")
    page.goto(demo_site.url + f"/claims/bills/{haidian.pk}/")
    expect(page.locator("body")).to_contain_text("京海医保发〔2023〕9号 三(二)")
    expect(page.locator("body")).to_contain_text("300.00（年度累计个人负担超过 2000.00 元部分按 30%）")
    expect(page.locator("body")).not_to_contain_text("京朝医保发")
    shot(page, "4-haidian-bill")
