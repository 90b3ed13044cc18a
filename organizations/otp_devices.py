"""django-otp devices whose secrets are encrypted at rest (issue 15).

django-otp's own ``otp_totp.TOTPDevice.key`` and ``otp_static.StaticToken.token`` are plain
columns: whoever reads the database (or a dump) can compute a reviewer's codes. django-otp's way
to change how a device stores its secret is a device plugin of one's own (a subclass of
``django_otp.models.Device``); django-otp finds every such model of an installed app
(``devices_for_user``, ``match_token``, ``login``), so nothing else changes:

- :class:`SecureTOTPDevice` is django-otp's TOTP device (same fields, same verification code,
  borrowed from ``TOTPDevice`` so upgrades of django-otp carry over) with ``key`` an
  :class:`~organizations.fieldcrypto.EncryptedCharField`: AES-256-GCM (or SM4-GCM) under
  ``FIELD_ENCRYPTION_KEY``, decrypted on load only.
- :class:`RecoveryCodeDevice` / :class:`RecoveryCode` are the static (recovery) codes: each code
  encrypted, looked up by its keyed hash (``FIELD_HASH_KEY``), deleted when used.

Migration ``organizations.0005`` moves every existing django-otp device into these tables
(encrypting) and deletes the clear rows. ``manage.py reencrypt_numbers`` re-encrypts them with
the other encrypted columns after a key rotation.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key, key_validator

from .fieldcrypto import BlindIndexField, EncryptedCharField


class SecureTOTPDevice(TimestampMixin, ThrottlingMixin, Device):
    """A TOTP device (RFC 6238) whose hex secret is stored encrypted."""

    key = EncryptedCharField(plain_max_length=80, validators=[key_validator], default=default_key,
                             help_text="A hex-encoded secret key of up to 40 bytes (stored encrypted).")
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = _("身份验证器（TOTP）")
        verbose_name_plural = _("身份验证器（TOTP）")

    # django-otp's own code, unchanged: it reads only these fields and the OTP_TOTP_* settings.
    bin_key = TOTPDevice.bin_key
    verify_token = TOTPDevice.verify_token
    get_throttle_factor = TOTPDevice.get_throttle_factor
    config_url = TOTPDevice.config_url
    _read_str_from_settings = TOTPDevice._read_str_from_settings


class RecoveryCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """The user's recovery codes (django-otp's static device): each usable once."""

    class Meta(Device.Meta):
        verbose_name = _("恢复码")
        verbose_name_plural = _("恢复码")

    def get_throttle_factor(self):
        return getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1)

    def verify_token(self, token):
        verify_allowed, _info = self.verify_is_allowed()
        if not verify_allowed:
            return False
        match = self.codes.filter(token=str(token)).first() if str(token).strip() else None  # through the hash
        if match is None:
            self.throttle_increment()
            return False
        match.delete()
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True

    @staticmethod
    def random_token() -> str:
        return StaticToken.random_token()


class RecoveryCode(models.Model):
    """One recovery code, encrypted; ``token_hash`` (HMAC under FIELD_HASH_KEY) finds it."""

    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    token = EncryptedCharField(plain_max_length=16, hash_field="token_hash")
    token_hash = BlindIndexField(source="token", db_index=True)

    class Meta:
        verbose_name = _("恢复码")
        verbose_name_plural = _("恢复码")

    def __str__(self) -> str:
        return f"{self.device_id}/{self.pk}"  # never the code
