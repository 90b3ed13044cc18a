"""Second factor (organizations.twofactor): required for reviewers and administrators, optional
for the other roles, enrolment with a local QR code, recovery codes shown once."""
import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY

from organizations import demo, roles, twofactor
from organizations.otp_devices import RecoveryCode, RecoveryCodeDevice, SecureTOTPDevice
from tests.factories import make_staff
from tests.otp import confirmed_device, force_login_password_only, token_for

PASSWORD = "correct-horse-battery"  # UserFactory's password
PAGES = ["/", "/claims/", "/beneficiaries/", "/applications/", "/reports/", "/admin/"]

pytestmark = pytest.mark.django_db


def password_login(client, user, next_url=None):
    url = reverse("login") + (f"?next={next_url}" if next_url else "")
    data = {"username": user.username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(url, data)


def enrol_url(next_url):
    return reverse("otp_enrol") + f"?next={next_url.replace('/', '%2F')}"


def verify_url(next_url):
    return reverse("otp_verify") + f"?next={next_url.replace('/', '%2F')}"


@pytest.fixture
def administrator(district):
    user = make_staff(roles.ADMINISTRATOR, district=district, username="sysadmin")
    user.is_staff = True
    user.save()
    return user


# --- who must pass it -------------------------------------------------------------------------

@pytest.mark.parametrize("url", PAGES)
def test_reviewer_without_second_factor_reaches_no_page(client, reviewer, url):
    force_login_password_only(client, reviewer)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == enrol_url(url)


@pytest.mark.parametrize("url", PAGES)
def test_administrator_without_second_factor_reaches_no_page(client, administrator, url):
    force_login_password_only(client, administrator)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == enrol_url(url)


def test_superuser_without_second_factor_reaches_no_page(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", password=PASSWORD)
    force_login_password_only(client, root)
    assert client.get("/admin/")["Location"] == enrol_url("/admin/")


def test_a_post_without_second_factor_does_nothing(client, reviewer):
    force_login_password_only(client, reviewer)
    response = client.post(reverse("search_go"), {"q": "张"})
    assert response.status_code == 302 and response["Location"] == reverse("otp_enrol")


def test_reviewer_with_a_device_is_asked_for_the_code_not_enrolment(client, reviewer):
    confirmed_device(reviewer)
    force_login_password_only(client, reviewer)
    assert client.get("/claims/")["Location"] == verify_url("/claims/")


def test_only_logout_language_and_the_second_factor_pages_are_open_before_it(client, reviewer):
    force_login_password_only(client, reviewer)
    assert client.get(reverse("otp_enrol")).status_code == 200
    assert client.get(reverse("healthz")).status_code in (200, 503)
    assert client.post(reverse("set_language"), {"language": "en", "next": "/"}).status_code == 302
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_caseworker_is_not_asked_for_a_second_factor(client, caseworker):
    password_login(client, caseworker)
    assert client.get("/").status_code == 200


def test_caseworker_who_enrolled_is_asked_for_it_at_the_next_login(client, caseworker):
    confirmed_device(caseworker)
    response = password_login(client, caseworker)
    assert client.get(response["Location"])["Location"].startswith(reverse("otp_verify"))
    assert client.get("/beneficiaries/")["Location"] == verify_url("/beneficiaries/")


def test_a_role_given_after_login_requires_the_second_factor_at_once(client, caseworker):
    password_login(client, caseworker)
    assert client.get("/").status_code == 200
    caseworker.groups.add(Group.objects.get(name=roles.REVIEWER))
    assert client.get("/")["Location"] == enrol_url("/")


def test_force_login_helper_passes_the_second_factor_for_tests(client, reviewer):
    client.force_login(reviewer)  # tests/conftest.py: force_login also passes it
    assert client.get("/claims/").status_code == 200
    assert client.session[DEVICE_ID_SESSION_KEY].startswith("organizations.securetotpdevice")


# --- login with the code ------------------------------------------------------------------------

def test_password_then_code_reaches_the_page_asked_for(client, reviewer):
    device = confirmed_device(reviewer)
    response = password_login(client, reviewer, next_url="/claims/")
    assert response["Location"] == "/claims/"
    response = client.get("/claims/")
    assert response["Location"] == verify_url("/claims/")
    page = client.get(response["Location"])
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    response = client.post(reverse("otp_verify"), {"otp_token": token_for(device), "next": "/claims/"})
    assert response["Location"] == "/claims/"
    assert client.get("/claims/").status_code == 200


def test_a_wrong_code_is_refused_with_a_message(client, reviewer):
    confirmed_device(reviewer)
    force_login_password_only(client, reviewer)
    response = client.post(reverse("otp_verify"), {"otp_token": "000000"})
    assert response.status_code == 200
    assert "验证码不正确" in response.content.decode()
    assert client.get("/").status_code == 302


def test_wrong_codes_slow_down_further_tries_even_with_the_right_code(client, reviewer):
    device = confirmed_device(reviewer)
    force_login_password_only(client, reviewer)
    right = twofactor.current_token(device)
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    for _ in range(4):
        client.post(reverse("otp_verify"), {"otp_token": wrong})
    response = client.post(reverse("otp_verify"), {"otp_token": right})
    assert response.status_code == 200  # throttled: after 4 failures no try counts for 8 s
    assert client.get("/").status_code == 302


def test_a_code_is_accepted_only_once(client, reviewer):
    device = confirmed_device(reviewer)
    force_login_password_only(client, reviewer)
    code = token_for(device)
    assert client.post(reverse("otp_verify"), {"otp_token": code})["Location"] == reverse("home")
    client.post(reverse("logout"))
    force_login_password_only(client, reviewer)
    response = client.post(reverse("otp_verify"), {"otp_token": code})
    assert response.status_code == 200 and "验证码不正确" in response.content.decode()


def test_a_recovery_code_replaces_the_code_once(client, reviewer):
    confirmed_device(reviewer)
    recovery = RecoveryCodeDevice.objects.create(user=reviewer, name="recovery")
    RecoveryCode.objects.create(device=recovery, token="abcd2345")
    force_login_password_only(client, reviewer)
    response = client.post(reverse("otp_verify"), {"otp_token": "ABCD 2345"}, follow=True)
    assert response.status_code == 200 and "还剩0个" in response.content.decode()
    client.post(reverse("logout"))
    force_login_password_only(client, reviewer)
    assert client.post(reverse("otp_verify"), {"otp_token": "abcd2345"}).status_code == 200
    assert client.get("/").status_code == 302


def test_an_unsafe_next_is_ignored(client, reviewer):
    device = confirmed_device(reviewer)
    force_login_password_only(client, reviewer)
    response = client.post(reverse("otp_verify"), {"otp_token": token_for(device), "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


# --- enrolment -----------------------------------------------------------------------------------

def test_enrolment_shows_a_local_qr_code_and_the_secret(client, reviewer):
    force_login_password_only(client, reviewer)
    response = client.get(reverse("otp_enrol"))
    html = response.content.decode()
    device = SecureTOTPDevice.objects.get(user=reviewer, confirmed=False)
    assert "<svg" in html and "<path" in html
    assert "data:" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert twofactor.secret_base32(device) in html
    assert "no-store" in response["Cache-Control"]
    # a reload shows the same secret (the phone may already have scanned it)
    assert twofactor.secret_base32(device) in client.get(reverse("otp_enrol")).content.decode()
    assert SecureTOTPDevice.objects.filter(user=reviewer).count() == 1


def test_enrolment_with_a_wrong_code_confirms_nothing(client, reviewer):
    force_login_password_only(client, reviewer)
    client.get(reverse("otp_enrol"))
    response = client.post(reverse("otp_enrol"), {"otp_token": "000000"})
    assert "验证码不正确" in response.content.decode()
    assert not SecureTOTPDevice.objects.filter(user=reviewer, confirmed=True).exists()
    assert client.get("/").status_code == 302


def test_enrolment_confirms_the_device_and_shows_recovery_codes_once(client, reviewer):
    force_login_password_only(client, reviewer)
    client.get(reverse("otp_enrol") + "?next=/claims/")
    device = SecureTOTPDevice.objects.get(user=reviewer, confirmed=False)
    response = client.post(reverse("otp_enrol"), {"otp_token": token_for(device), "next": "/claims/"})
    html = response.content.decode()
    codes = list(RecoveryCode.objects.filter(device__user=reviewer).values_list("token", flat=True))
    assert len(codes) == twofactor.RECOVERY_CODE_COUNT
    assert all(code in html for code in codes)
    assert "no-store" in response["Cache-Control"]
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/claims/").status_code == 200  # verified by the enrolment itself
    assert not any(code in client.get(reverse("otp_enrol")).content.decode() for code in codes)


def test_replacing_a_device_needs_the_current_one_and_revokes_it(client, reviewer):
    old = confirmed_device(reviewer)
    RecoveryCode.objects.create(device=RecoveryCodeDevice.objects.create(user=reviewer, name="recovery"), token="oldcode1")
    force_login_password_only(client, reviewer)
    assert client.get(reverse("otp_enrol"))["Location"].startswith(reverse("otp_verify"))
    client.post(reverse("otp_verify"), {"otp_token": token_for(old)})
    client.get(reverse("otp_enrol"))
    new = SecureTOTPDevice.objects.get(user=reviewer, confirmed=False)
    client.post(reverse("otp_enrol"), {"otp_token": token_for(new)})
    assert list(SecureTOTPDevice.objects.filter(user=reviewer).values_list("pk", flat=True)) == [new.pk]
    assert not RecoveryCode.objects.filter(token="oldcode1").exists()


def test_a_device_removed_by_the_administrator_sends_the_reviewer_to_enrolment(client, reviewer):
    confirmed_device(reviewer)
    force_login_password_only(client, reviewer)
    SecureTOTPDevice.objects.filter(user=reviewer).delete()
    response = client.get(client.get("/")["Location"])
    assert response["Location"].startswith(reverse("otp_enrol"))


# --- the demo ------------------------------------------------------------------------------------

def test_demo_reviewer_and_administrator_have_the_documented_secret():
    call_command("seed_demo", only=["organizations"], stdout=io.StringIO())
    for username in ("shenhe", "admin"):
        device = SecureTOTPDevice.objects.get(user__username=username, confirmed=True)
        assert device.key == demo.DEMO_TOTP_KEY
        assert twofactor.secret_base32(device).replace(" ", "") == demo.DEMO_TOTP_SECRET_BASE32
    assert not SecureTOTPDevice.objects.filter(user__username="jingban").exists()


@pytest.mark.parametrize("shown", [True, False])
def test_demo_verification_page_shows_the_current_code_only_on_the_demo(client, shown, django_user_model):
    call_command("seed_demo", only=["organizations"], stdout=io.StringIO())
    shenhe = django_user_model.objects.get(username="shenhe")
    force_login_password_only(client, shenhe)
    with override_settings(SHOW_DEMO_LOGINS=shown):
        html = client.get(reverse("otp_verify")).content.decode()
    assert ('id="demo-otp-code"' in html) is shown
