"""Issue 15: TOTP secrets and recovery codes are encrypted at rest (organizations.otp_devices,
docs/security.md "Second factor" and "Encryption at rest"). Before, django-otp kept them in
clear in ``otp_totp_totpdevice.key`` and ``otp_static_statictoken.token``."""
import base64
import importlib
import io

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from organizations import fieldcrypto, twofactor
from organizations.otp_devices import RecoveryCode, RecoveryCodeDevice, SecureTOTPDevice
from tests.otp import force_login_password_only, token_for

pytestmark = pytest.mark.django_db

OTHER_KEY = base64.b64encode(b"another-field-encryption-key-32b").decode()
OTHER_HASH_KEY = base64.b64encode(b"another-field-hash-key-32-bytes!").decode()


def rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - test, fixed names
        return cursor.fetchall()


def database_text() -> str:
    """Every row of every second-factor table, as the database holds it."""
    tables = ("otp_totp_totpdevice", "otp_static_staticdevice", "otp_static_statictoken",
              "organizations_securetotpdevice", "organizations_recoverycodedevice", "organizations_recoverycode")
    return repr([rows(t) for t in tables]).lower()


def test_issue_15_enrolment_stores_no_clear_totp_secret_or_recovery_code(client, reviewer):
    force_login_password_only(client, reviewer)
    client.get(reverse("otp_enrol"))
    device = SecureTOTPDevice.objects.get(user=reviewer, confirmed=False)
    response = client.post(reverse("otp_enrol"), {"otp_token": token_for(device)})
    codes = list(RecoveryCode.objects.filter(device__user=reviewer).values_list("token", flat=True))
    assert len(codes) == twofactor.RECOVERY_CODE_COUNT and all(c in response.content.decode() for c in codes)
    secret = SecureTOTPDevice.objects.get(user=reviewer, confirmed=True).key
    text = database_text()
    assert secret.lower() not in text
    assert twofactor.secret_base32(device).replace(" ", "").lower() not in text
    assert not any(code.lower() in text for code in codes)
    (raw_key,) = _column("organizations_securetotpdevice", "key")
    assert fieldcrypto.is_encrypted(raw_key) and fieldcrypto.decrypt(raw_key) == secret
    assert all(fieldcrypto.is_encrypted(v) for v in _column("organizations_recoverycode", "token"))


def _column(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")  # noqa: S608 - test, fixed names
        return [r[0] for r in cursor.fetchall()]


def test_issue_15_login_with_the_encrypted_secret_and_an_encrypted_recovery_code(client, reviewer):
    device = SecureTOTPDevice.objects.create(user=reviewer, name="totp", confirmed=True)
    codes = twofactor.confirm_enrolment(reviewer, device)
    force_login_password_only(client, reviewer)
    assert client.post(reverse("otp_verify"), {"otp_token": token_for(device)})["Location"] == reverse("home")
    client.post(reverse("logout"))
    force_login_password_only(client, reviewer)
    response = client.post(reverse("otp_verify"), {"otp_token": codes[0].upper()}, follow=True)
    assert "还剩9个" in response.content.decode()
    assert not RecoveryCode.objects.filter(token=codes[0]).exists()  # used once, found by its hash


def test_issue_15_migration_encrypts_the_existing_django_otp_secrets(client, reviewer):
    clear = TOTPDevice.objects.create(user=reviewer, name="totp", confirmed=True, last_t=7)
    static = StaticDevice.objects.create(user=reviewer, name="recovery", confirmed=True)
    StaticToken.objects.create(device=static, token="abcd2345")
    secret = clear.key
    migration = importlib.import_module("organizations.migrations.0006_otp_secrets_encrypted")
    migration.forwards(apps, None)

    assert not TOTPDevice.objects.exists() and not StaticDevice.objects.exists() and not StaticToken.objects.exists()
    device = SecureTOTPDevice.objects.get(user=reviewer)
    assert (device.key, device.confirmed, device.last_t) == (secret, True, 7)
    assert secret not in database_text() and "abcd2345" not in database_text()
    # the authenticator app and the recovery codes the user already has keep working
    force_login_password_only(client, reviewer)
    assert client.post(reverse("otp_verify"), {"otp_token": token_for(device)})["Location"] == reverse("home")
    assert RecoveryCodeDevice.objects.get(user=reviewer).verify_token("abcd2345")

    migration.backwards(apps, None)  # reversible
    assert TOTPDevice.objects.get(user=reviewer).key == secret and not SecureTOTPDevice.objects.exists()


def test_issue_15_key_rotation_re_encrypts_the_otp_secrets(reviewer):
    device = SecureTOTPDevice.objects.create(user=reviewer, name="totp", confirmed=True)
    codes = twofactor.confirm_enrolment(reviewer, device)
    with override_settings(FIELD_ENCRYPTION_KEY=OTHER_KEY, FIELD_HASH_KEY=OTHER_HASH_KEY,
                           FIELD_ENCRYPTION_OLD_KEYS=[settings.FIELD_ENCRYPTION_KEY]):
        call_command("reencrypt_numbers", stdout=io.StringIO())
    with override_settings(FIELD_ENCRYPTION_KEY=OTHER_KEY, FIELD_HASH_KEY=OTHER_HASH_KEY):
        assert SecureTOTPDevice.objects.get(pk=device.pk).key == device.key
        assert RecoveryCodeDevice.objects.get(user=reviewer).verify_token(codes[1])
