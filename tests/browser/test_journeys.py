"""Issue 18: a caseworker's and a reviewer's day in a real browser (Chromium at /usr/bin/chromium).

Each journey also asserts that no request left 127.0.0.1 (no CDN, no font service) and that no
page logged a console error. Screenshots go to ``$JOURNEY_SCREENSHOTS`` when it is set (the ones
in docs/screenshots/ were taken that way), otherwise to a temporary directory.
"""
from __future__ import annotations

import io
import os
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import pass_second_factor, requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def journey_site(transactional_db, live_server):
    """The live server with the demo organisations, policies and beneficiaries (fast: no letters)."""
    from django.core.management import call_command

    from tests.test_i18n import ensure_english_compiled

    ensure_english_compiled()
    call_command("seed_demo", only=["organizations", "policies", "beneficiaries"], stdout=io.StringIO())
    return live_server


@pytest.fixture
def watched(page, journey_site, tmp_path):
    """The page, with every request and console error recorded; checked after the journey."""
    outside, errors = [], []
    host = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/")

    def on_request(request):
        if not (host.match(request.url) or request.url.startswith(("data:", "blob:", "about:"))):
            outside.append(request.url)

    page.on("request", on_request)
    page.on("console", lambda msg: errors.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    shots = Path(os.environ.get("JOURNEY_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.shot = lambda name: page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    yield page
    assert outside == [], f"requests left 127.0.0.1: {outside}"
    assert errors == [], f"console errors: {errors}"


def login(page, base_url, username, password):
    page.goto(base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    pass_second_factor(page, username)
    expect(page.locator("h1")).to_be_visible()


def logout(page):
    page.locator("form[action$='/accounts/logout/'] button").click()


def demo_person(name="刘志强"):
    from beneficiaries.models import Person

    return Person.objects.get(name=name)


def make_submitted_claim(*, settlement_no: str, burden: str = "20000.00"):
    """A claim of the demo caseworker, submitted (set up through the services: the reviewer's
    journey starts from the queue)."""
    from django.contrib.auth import get_user_model

    from claims import services
    from organizations.models import Institution

    person = demo_person()
    worker = get_user_model().objects.get(username="jingban")
    institution = Institution.objects.get(code="H11010500011")
    scope = Decimal(burden) + Decimal("10000.00")
    claim = services.claim_create(
        person=person, district=person.hukou_district, applied_on=date(2026, 11, 20), by=worker,
        bills=[{"institution": institution, "settlement_no": settlement_no, "visit_type": "inpatient",
                "admission_date": date(2026, 11, 1), "discharge_date": date(2026, 11, 10), "diagnosis_code": "C34.9",
                "diagnosis_name": "肺恶性肿瘤", "total_cost": scope + 1000, "policy_scope_cost": scope,
                "basic_paid": Decimal("10000.00"), "critical_paid": Decimal("0.00"), "other_paid": Decimal("0.00")}])
    services.claim_submit(claim=claim, by=worker)
    return claim


def make_approved_relief():
    """An approved relief on application (京 六(三)) for a demo household with a 2023 stay, set up
    through the services: caseworker computes, civil affairs certifies, the reviewer decides."""
    from django.contrib.auth import get_user_model

    from applications import services as app_services
    from beneficiaries.models import Person
    from claims.models import PayeeAccount
    from organizations.models import Institution
    from tests.applications.workflow import receive, to_reviewing
    from tests.factories import BillFactory

    users = get_user_model().objects
    patient = Person.objects.filter(household__isnull=False, hukou_district__code="110105").exclude(name="刘志强").order_by("pk").first()
    BillFactory(person=patient, institution=Institution.objects.get(code="H11010500011"), district=patient.hukou_district,
                admission_date=date(2025, 4, 1), discharge_date=date(2025, 4, 9))
    application = to_reviewing(receive(household=patient.household, patient=patient,
                                       caseworker=users.get(username="jingban"), on=date(2026, 3, 1)),
                               caseworker=users.get(username="jingban"), certifier=users.get(username="minzheng"))
    app_services.application_decide(application=application, by=users.get(username="shenhe"), approve=True)
    application.refresh_from_db()
    assert application.relief and application.relief > 0
    PayeeAccount.objects.get_or_create(person=patient, active=True, defaults={
        "account_name": patient.name, "account_number": "6217000011112222333", "bank_name": "建设银行朝阳支行"})
    return application


def test_caseworker_records_a_claim_edits_it_and_submits(watched, journey_site):
    page, base = watched, journey_site.url
    person = demo_person()
    login(page, base, "jingban", "demo-jingban-2026")
    page.goto(base + "/claims/new/")
    page.fill("#id_claim-id_number", person.id_number)
    page.fill("#id_claim-applied_on", "2026-11-20")
    from organizations.models import Institution

    page.select_option("#id_bill-institution", str(Institution.objects.get(code="H11010500011").pk))
    page.fill("#id_bill-settlement_no", "ZY-J-0001")
    page.select_option("#id_bill-visit_type", "inpatient")
    page.fill("#id_bill-admission_date", "2026-11-01")
    page.fill("#id_bill-discharge_date", "2026-11-10")
    page.fill("#id_bill-total_cost", "31000.00")
    page.fill("#id_bill-policy_scope_cost", "30000.00")
    page.fill("#id_bill-basic_paid", "10000.00")
    page.get_by_role("button", name="保存为草稿").click()
    expect(page.locator(".alert-success")).to_contain_text("已登记报销申请")
    page.shot("journey-01-caseworker-draft")

    # A mistyped amount is corrected in the draft, not rejected.
    page.locator("a.bill-edit").first.click()
    page.fill("#id_bill-policy_scope_cost", "25000.00")
    page.fill("#id_bill-total_cost", "26000.00")
    page.get_by_role("button", name="保存修改").click()
    expect(page.locator(".alert-success")).to_contain_text("已修改结算单")
    expect(page.locator(".timeline")).to_contain_text("修改结算单 ZY-J-0001")

    # Submitting asks first, naming the person and the amount.
    page.get_by_role("button", name="提交审核").click()
    expect(page.locator(".confirm-step")).to_contain_text(person.name)
    expect(page.locator(".confirm-amount")).to_have_text(re.compile(r"^\d{1,3}(,\d{3})*\.\d{2}$"))
    page.shot("journey-02-submit-confirmation")
    page.click("#confirm-button")
    expect(page.locator(".alert-success")).to_contain_text("已提交审核")
    expect(page.locator("h1 .badge, h1 span").first).to_contain_text("待审核")

    # Found again from the navbar by the last four of the ID number.
    page.fill(".nav-search input[name=q]", person.id_number[-4:])
    page.keyboard.press("Enter")
    expect(page.locator("[data-section=claims]")).to_contain_text("BX2026-")
    page.shot("journey-03-navbar-search")


def test_reviewer_approves_one_rejects_one_and_opens_the_letter(watched, journey_site):
    page, base = watched, journey_site.url
    first = make_submitted_claim(settlement_no="ZY-R-0001")
    second = make_submitted_claim(settlement_no="ZY-R-0002", burden="5000.00")
    login(page, base, "shenhe", "demo-shenhe-2026")

    page.goto(base + f"/claims/?q={first.number}")
    page.get_by_role("link", name=first.number).click()
    expect(page.locator("input[name=action]:checked")).to_have_count(0)  # nothing pre-selected
    page.locator("input[name=action][value=approve]").check()
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.locator(".confirm-step")).to_contain_text("确认批准")
    page.shot("journey-04-approve-confirmation")
    page.click("#confirm-button")
    expect(page.locator(".alert-success")).to_contain_text("已批准", timeout=60_000)

    page.goto(base + f"/claims/{second.pk}/")
    page.locator("input[name=action][value=reject]").check()
    page.select_option("#id_reason", "documents")
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.locator(".confirm-step")).to_contain_text("不予救助决定书")
    page.click("#confirm-button")
    expect(page.locator(".alert-success")).to_contain_text("不予救助", timeout=60_000)

    # The approval letter: its page, then the PDF (fetched in the browser's session).
    page.goto(base + f"/claims/{first.pk}/")
    letter_link = page.locator("a[href*='/reports/letters/'][href$='/pdf']").first
    expect(letter_link).to_be_visible(timeout=30_000)
    response = page.request.get(base + letter_link.get_attribute("href"))
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body()[:5] == b"%PDF-"
    page.shot("journey-05-reviewer-decided")


def test_payment_batch_nothing_preselected_built_after_confirmation(watched, journey_site):
    from django.contrib.auth import get_user_model

    from claims import services

    page, base = watched, journey_site.url
    reviewer = get_user_model().objects.get(username="shenhe")
    claims = [make_submitted_claim(settlement_no=f"ZY-P-{i}") for i in range(2)]
    from claims.models import PayeeAccount

    person = claims[0].person
    PayeeAccount.objects.get_or_create(person=person, active=True, defaults={
        "account_name": person.name, "account_number": "6222020200001234567", "bank_name": "工商银行朝阳支行"})
    for claim in claims:
        services.claim_approve(claim=claim, reviewer=reviewer)
    relief = make_approved_relief()  # issue 16: relief on application is paid in batches too
    login(page, base, "jingban", "demo-jingban-2026")
    page.goto(base + "/claims/batches/")
    expect(page.locator("input[name=claims]:checked")).to_have_count(0)
    expect(page.locator("input[name=reliefs]:checked")).to_have_count(0)
    page.locator("input[name=claims]").first.check()
    page.locator(f"input[name=reliefs][value='{relief.pk}']").check()
    page.get_by_role("button", name="生成支付批次").click()
    expect(page.locator(".confirm-step")).to_contain_text("1 个已批准申请")
    expect(page.locator(".confirm-step")).to_contain_text(relief.number)
    expect(page.locator(".confirm-step")).to_contain_text(relief.applicant.name)
    page.shot("journey-06-batch-confirmation")
    page.click("#confirm-button")
    expect(page.locator("h1")).to_contain_text("支付批次 ZF")
    # The bank file downloads from the batch page, and its rows add up to the batch total shown.
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("ZF") and download.suggested_filename.endswith(".csv")
    import csv
    from decimal import Decimal
    from pathlib import Path

    *rows, total_row = csv.DictReader(Path(download.path()).read_text(encoding="utf-8-sig").splitlines())
    assert len(rows) == 2 and total_row["序号"] == "合计"
    assert any(relief.number in r["摘要"] and Decimal(r["金额"]) == relief.relief for r in rows)
    shown_total = page.locator("tr.fw-semibold td.money").inner_text().replace(",", "").replace("¥", "").strip()
    assert sum(Decimal(r["金额"]) for r in rows) == Decimal(total_row["金额"]) == Decimal(shown_total)
    page.fill("#id_reference", "ICBC-20261207-01")
    page.get_by_role("button", name="标记为已支付").click()
    expect(page.locator(".confirm-step")).to_contain_text("ICBC-20261207-01")
    page.click("#confirm-button")
    expect(page.locator(".alert-success")).to_contain_text("已标记支付")
    from claims import money

    relief.refresh_from_db()
    assert money.relief_paid_of(relief) == relief.relief
    page.goto(base + f"/applications/{relief.pk}/")
    expect(page.locator("[data-relief-payment]")).to_contain_text("已支付")


def test_english_phone_width_claim_list_and_search(watched, journey_site):
    page, base = watched, journey_site.url
    page.set_viewport_size({"width": 390, "height": 844})
    make_submitted_claim(settlement_no="ZY-E-0001")
    login(page, base, "jingban", "demo-jingban-2026")
    page.locator(".navbar-toggler").click()  # the menu is folded at phone width
    page.select_option("#language-select", "en")
    expect(page.locator("h1")).to_contain_text("Hello")
    page.goto(base + "/claims/")
    expect(page.locator(".list-total")).to_contain_text("in total")
    expect(page.locator("th a.sort-link").first).to_be_visible()
    # Nothing wider than the phone: the table scrolls inside its own box.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    page.shot("journey-07-en-390px-claims")
    headers = page.locator("thead").inner_text()
    assert not HAN.search(headers), headers


def test_certifier_revokes_one_and_imports_a_roster_that_ends_others(watched, journey_site):
    from beneficiaries.models import Certification, ImportStatus

    page, base = watched, journey_site.url
    person = demo_person()
    spouse = demo_person("陈美华")
    login(page, base, "minzheng", "demo-minzheng-2026")

    # Ending one certification asks first, naming the person and the dates.
    page.goto(base + f"/beneficiaries/persons/{person.pk}/")
    page.locator("a[href*='/revoke']").first.click()
    page.fill("#id_until", "2026-11-30")
    page.fill("#id_reason", "收入超过低保标准")
    page.get_by_role("button", name="终止认定").click()
    expect(page.locator(".confirm-step")).to_contain_text(person.name)
    expect(page.locator(".confirm-step")).to_contain_text("2026-11-30")
    page.click("#confirm-button")
    expect(page.locator(".alert-success")).to_contain_text("已终止")

    # A roster with only the spouse, "end those not on it": the preview names each person ended.
    csv = ("id_number,name,category,valid_from,valid_until,document_ref\n"
           f"{spouse.id_number},{spouse.name},minimum_living,2022-01-01,,京朝民低〔2022〕31号\n").encode()
    page.goto(base + "/beneficiaries/imports/")
    page.set_input_files("#id_file", files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": csv}])
    page.check("#id_revoke_missing")
    page.fill("#id_roster_date", "2026-12-01")
    page.get_by_role("button", name="上传并预览").click()
    expect(page.locator(".roster-endings")).to_be_visible(timeout=30_000)
    expect(page.locator(".roster-endings")).to_contain_text("刘子涵")
    page.shot("journey-08-roster-endings-preview")
    page.get_by_role("button", name="确认导入有效行").click()
    expect(page.locator(".confirm-step")).to_contain_text("刘子涵")
    page.click("#confirm-button")
    child = Certification.objects.filter(person__name="刘子涵", category__code="minimum_living").get()
    expect(page.locator("#batch-status")).to_have_text(str(ImportStatus.APPLIED.label), timeout=30_000)
    child.refresh_from_db()
    assert child.valid_until == date(2026, 12, 1)


def test_illness_poverty_application_from_intake_to_decision(watched, journey_site):
    """依申请救助: caseworker receives, civil affairs assesses, caseworker sees the figure before
    sending it to review, the reviewer decides with nothing pre-selected and a confirmation."""
    from django.utils import timezone

    from claims import services as claim_services
    from organizations.models import Institution

    page, base = watched, journey_site.url
    patient = demo_person("李建军")
    institution = Institution.objects.get(code="H11010500011")
    claim_services.bill_create(
        person=patient, district_id=patient.hukou_district_id, institution_id=institution.pk, by=None,
        data={"settlement_no": "ZY-A-0001", "visit_type": "inpatient", "admission_date": date(2026, 9, 1),
              "discharge_date": date(2026, 9, 20), "diagnosis_code": "C34.9", "diagnosis_name": "肺恶性肿瘤",
              "total_cost": Decimal("260000.00"), "policy_scope_cost": Decimal("240000.00"),
              "basic_paid": Decimal("120000.00"), "critical_paid": Decimal("40000.00"), "other_paid": Decimal("0.00"),
              "hospital_assistance_paid": Decimal("0.00")})
    login(page, base, "jingban", "demo-jingban-2026")
    page.goto(base + "/applications/new/")
    page.fill("#id_patient_id_number", patient.id_number)
    page.fill("#id_received_on", timezone.localdate().isoformat())
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.locator("h1")).to_contain_text("医申〔")
    detail = page.url
    page.get_by_role("button", name="转民政部门核对家庭经济状况").click()
    logout(page)

    login(page, base, "minzheng", "demo-minzheng-2026")
    page.goto(detail)
    page.get_by_role("link", name="录入家庭经济状况核对结果").click()
    page.fill("#id_annual_income", "36000.00")
    page.fill("#id_assets", "20000.00")
    page.fill("#id_members_count", "3")
    page.locator("input[name=result][value=certified]").check()
    page.fill("#id_document_ref", "京朝民因病〔2026〕9号")
    page.get_by_role("button", name="提交核对结果").click()
    logout(page)

    login(page, base, "jingban", "demo-jingban-2026")
    page.goto(detail)
    page.get_by_role("button", name="计算救助金额").click()
    expect(page.locator(".confirm-step")).to_contain_text("计算的救助金额")
    page.shot("journey-09-application-computed")
    page.click("#confirm-button")
    expect(page.locator(".alert-success")).to_contain_text("转审核")
    logout(page)

    login(page, base, "shenhe", "demo-shenhe-2026")
    page.goto(detail)
    expect(page.locator("input[name=decision]:checked")).to_have_count(0)
    # The demo bill is outside what the application counts, so the figure is zero: the
    # reviewer refuses, with a reason, after the confirmation names the person.
    page.locator("input[name=decision][value=reject]").check()
    page.fill("#id_reason", "计入期间内无符合条件的医疗费用")
    page.get_by_role("button", name="作出决定").click()
    expect(page.locator(".confirm-step")).to_contain_text(patient.name)
    expect(page.locator(".confirm-step")).to_contain_text("不予救助决定书")
    page.click("#confirm-button")
    expect(page.locator(".alert-success, .alert-danger").first).to_contain_text("已作出不予救助决定", timeout=60_000)
    page.shot("journey-10-application-decided")
