"""In a real browser: a reviewer without a second factor is sent to enrolment, scans (here: reads)
the secret shown beside the QR code, confirms with the code computed from it, gets the recovery
codes once, and at the next login passes the code screen."""
import base64
import re

import pytest
from playwright.sync_api import expect

from .conftest import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]

PASSWORD = "reviewer-totp-2026"


def code_from_secret(secret: str) -> str:
    """What an authenticator app shows for the secret as printed on the page (RFC 6238, SHA-1)."""
    from django_otp.oath import TOTP

    raw = secret.replace(" ", "")
    key = base64.b32decode(raw + "=" * (-len(raw) % 8))
    return f"{TOTP(key).token():06d}"


def password_login(page, base_url, username):
    page.goto(base_url + "/claims/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def test_reviewer_enrols_a_totp_app_and_logs_in_with_its_code(page, demo_site):
    from django.contrib.auth.models import Group

    from organizations import roles
    from organizations.models import District, StaffProfile
    from organizations.otp_devices import SecureTOTPDevice
    from tests.factories import UserFactory

    user = UserFactory(username="new-reviewer", first_name="钱审")
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(Group.objects.get(name=roles.REVIEWER))
    StaffProfile.objects.create(
        user=user, agency=StaffProfile.objects.get(user__username="shenhe").agency,
        district=District.objects.get(code="110105"),
    )
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(demo_site.url) else outside.append(r.url))

    password_login(page, demo_site.url, "new-reviewer")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/enrol/\?next=%2Fclaims%2F"))
    expect(page.locator(".otp-qr svg")).to_be_visible()
    secret = page.locator("#otp-secret").inner_text()

    page.goto(demo_site.url + "/beneficiaries/")  # nothing else is reachable before enrolment
    expect(page).to_have_url(re.compile(r"/accounts/2fa/enrol/"))

    page.fill("#id_otp_token", code_from_secret(secret))
    page.click("#otp-submit")
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    page.click("#otp-continue")
    expect(page).to_have_url(demo_site.url + "/beneficiaries/")  # the page last asked for

    page.locator("form[action$='/accounts/logout/'] button").click()
    password_login(page, demo_site.url, "new-reviewer")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/\?next=%2Fclaims%2F"))
    # A code counts once per 30-second step: forget the step the enrolment used, as the next one would.
    SecureTOTPDevice.objects.filter(user=user).update(last_t=-1)
    page.fill("#id_otp_token", code_from_secret(secret))
    page.click("#otp-submit")
    expect(page).to_have_url(demo_site.url + "/claims/")
    expect(page.locator("h1")).to_be_visible()
    assert outside == [], f"requests left the server: {outside}"
