"""Security baseline: login throttling, session limits, password validators, deploy check."""
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from organizations.middleware import LAST_SEEN, LOGIN_AT
from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"  # UserFactory's password
BASE_DIR = Path(settings.BASE_DIR)


def login(client, username, password, ip):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == reverse("home")


def fail_n_times(client, usernames, ip):
    for username in usernames:
        response = login(client, username, "wrong-password", ip)
        assert not logged_in(response)


# --- django-axes: the username; the address only for many usernames -------------------------------------------------

def test_axes_locks_the_username_and_the_address_only_for_many_usernames():
    assert settings.AXES_LOCKOUT_PARAMETERS == "organizations.security.lockout_parameters"
    assert settings.AXES_ADDRESS_USERNAME_LIMIT > settings.AXES_FAILURE_LIMIT
    assert settings.AXES_COOLOFF_TIME, "a lockout must end by itself after a cool-off time"


@pytest.mark.django_db
def test_login_five_wrong_passwords_for_one_user_do_not_lock_another_from_the_same_address(client):
    """Issue 15: 5 mistyped logins from an office's shared address locked everyone behind it."""
    UserFactory(username="typist")
    colleague = UserFactory(username="colleague-b")
    fail_n_times(client, ["typist"] * settings.AXES_FAILURE_LIMIT, ip="10.8.8.8")
    assert login(client, "typist", PASSWORD, ip="10.8.8.8").status_code == 429  # A is locked
    assert logged_in(login(client, colleague.username, PASSWORD, ip="10.8.8.8"))  # B, same address, is not


@pytest.mark.django_db
def test_a_username_guessed_from_many_addresses_is_locked(client):
    """An attacker switching IP addresses still locks the account they are guessing."""
    victim = UserFactory(username="victim")
    limit = settings.AXES_FAILURE_LIMIT
    for i in range(limit):
        fail_n_times(client, ["victim"], ip=f"10.0.0.{i + 1}")
    response = login(client, victim.username, PASSWORD, ip="10.9.9.9")  # right password, fresh address
    assert response.status_code == 429
    assert not logged_in(response)


@pytest.mark.django_db
def test_an_address_guessing_many_usernames_is_locked(client):
    """Password spraying from one address locks that address, even for a correct login."""
    UserFactory(username="innocent")
    fail_n_times(client, [f"nobody{i}" for i in range(settings.AXES_ADDRESS_USERNAME_LIMIT)], ip="10.1.1.1")
    assert login(client, "innocent", PASSWORD, ip="10.1.1.1").status_code == 429
    # the same user from another address is not locked: only the address was
    client.logout()
    assert logged_in(login(client, "innocent", PASSWORD, ip="10.2.2.2"))


@pytest.mark.django_db
def test_failures_below_the_limit_do_not_lock(client):
    UserFactory(username="typo")
    fail_n_times(client, ["typo"] * (settings.AXES_FAILURE_LIMIT - 1), ip="10.3.3.3")
    assert logged_in(login(client, "typo", PASSWORD, ip="10.3.3.3"))


@pytest.mark.django_db
def test_lockout_ends_after_the_cool_off_time(client):
    UserFactory(username="patient")
    fail_n_times(client, ["patient"] * settings.AXES_FAILURE_LIMIT, ip="10.4.4.4")
    assert login(client, "patient", PASSWORD, ip="10.4.4.4").status_code == 429
    # move every recorded failure back past the cool-off window
    cool_off = timedelta(hours=settings.AXES_COOLOFF_TIME) + timedelta(minutes=1)
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - cool_off)
    assert logged_in(login(client, "patient", PASSWORD, ip="10.4.4.4"))


@pytest.mark.django_db
def test_lockout_page_is_shown_in_chinese(client):
    fail_n_times(client, ["ghost"] * settings.AXES_FAILURE_LIMIT, ip="10.5.5.5")
    response = login(client, "ghost", "x", ip="10.5.5.5")
    assert response.status_code == 429
    assert "暂时锁定" in response.content.decode()


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_failures_count_against_the_client_not_the_proxy(client):
    """Otherwise one attacker behind the proxy would lock every user out."""
    UserFactory(username="colleague")
    for i in range(settings.AXES_ADDRESS_USERNAME_LIMIT):
        client.post(reverse("login"), {"username": f"x{i}", "password": "bad"},
                    REMOTE_ADDR="192.168.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6")
    ok = client.post(reverse("login"), {"username": "colleague", "password": PASSWORD},
                     REMOTE_ADDR="192.168.0.1", HTTP_X_FORWARDED_FOR="7.7.7.7")
    assert logged_in(ok)
    client.logout()
    spoofed = client.post(reverse("login"), {"username": "colleague", "password": PASSWORD},
                          REMOTE_ADDR="192.168.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 6.6.6.6")
    assert spoofed.status_code == 429, "a forged left-most X-Forwarded-For entry must not escape the lock"


# --- sessions: idle timeout and absolute limit ----------------------------------------------------

def _login_and_age(client, *, idle: int = 0, since_login: int = 0):
    user = UserFactory(username="sessionuser")
    client.force_login(user)
    assert client.get(reverse("home")).status_code == 200
    session = client.session
    now = int(time.time())
    session[LAST_SEEN] = now - idle
    session[LOGIN_AT] = now - since_login
    session.save()


def test_session_limits_are_not_djangos_two_week_default():
    assert settings.SESSION_IDLE_TIMEOUT <= 60 * 60
    assert settings.SESSION_ABSOLUTE_TIMEOUT <= 12 * 60 * 60
    assert settings.SESSION_COOKIE_AGE <= settings.SESSION_ABSOLUTE_TIMEOUT


@pytest.mark.django_db
def test_session_survives_activity_within_the_idle_timeout(client):
    _login_and_age(client, idle=settings.SESSION_IDLE_TIMEOUT - 60, since_login=settings.SESSION_IDLE_TIMEOUT)
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_session_ends_after_idle_timeout(client):
    _login_and_age(client, idle=settings.SESSION_IDLE_TIMEOUT + 1, since_login=settings.SESSION_IDLE_TIMEOUT + 1)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client.get(reverse("home")).status_code == 302, "the user must really be logged out"


@pytest.mark.django_db
def test_session_ends_at_the_absolute_limit_however_active(client):
    _login_and_age(client, idle=0, since_login=settings.SESSION_ABSOLUTE_TIMEOUT + 1)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_absolute_limit_counts_from_the_login(client):
    UserFactory(username="fresh")
    client.post(reverse("login"), {"username": "fresh", "password": PASSWORD}, REMOTE_ADDR="10.6.6.6")
    stamped = client.session[LOGIN_AT]
    assert abs(stamped - int(time.time())) <= 5


# --- passwords -------------------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["short1", "12345678901234", "password123", "jingban2026x"])
def test_weak_passwords_are_rejected(password):
    user = UserFactory.build(username="jingban2026", first_name="王静")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_a_strong_password_is_accepted():
    validate_password("Yun-he-2026-qiao", UserFactory.build(username="someone"))


# --- everything behind login ----------------------------------------------------------------------

@pytest.mark.django_db
def test_admin_is_for_staff_only(client, caseworker):
    client.force_login(caseworker)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


# --- production settings --------------------------------------------------------------------------

def _production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="prod-" + "x7Gq2mP9vL4kR8tW1zN6bH3jD5fS0aYc" * 2,
        DJANGO_ALLOWED_HOSTS="medassist.example.gov.cn",
        # production refuses to start without these (tests/operations/test_production_settings.py)
        DATABASE_URL="postgres://medassist@127.0.0.1:5432/medassist",
        REDIS_URL="redis://127.0.0.1:6379/0",
        PUBLIC_BASE_URL="https://medassist.example.gov.cn",
        FIELD_ENCRYPTION_KEY="cHJvZC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=",
        FIELD_HASH_KEY="cHJvZC1maWVsZC1oYXNoLWtleS0tLS0tLS0tLTMyYnk=",
        **extra,
    )
    return env


@pytest.mark.slow
def test_check_deploy_is_clean_under_production_settings():
    """``manage.py check --deploy --fail-level WARNING`` exits 0 (HSTS, SSL redirect, secure cookies, ...)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, env=_production_env(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = _production_env()
    del env["DJANGO_SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_settings_harden_cookies_and_transport():
    result = subprocess.run(
        [sys.executable, "-c", (
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
            "s.SECURE_HSTS_SECONDS >= 31536000, s.SHOW_DEMO_LOGINS)"
        )],
        cwd=BASE_DIR, env=_production_env(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "True", "True", "False"]
