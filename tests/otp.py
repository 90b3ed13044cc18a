"""Passing the second factor in tests (organizations.twofactor).

The requirement is never switched off in test settings. ``Client.force_login`` (which already
skips the password) also passes the second factor for users who need it: tests/conftest.py
wraps it with :func:`pass_second_factor`. Tests of the requirement itself log in with the
password only (:func:`force_login_password_only`) or through the login form, and compute the
code with :func:`token_for`.
"""
from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from organizations import twofactor
from organizations.otp_devices import SecureTOTPDevice

_force_login = Client.force_login  # Django's own, kept before tests/conftest.py wraps it


def confirmed_device(user) -> SecureTOTPDevice:
    device = SecureTOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = SecureTOTPDevice.objects.create(user=user, name=twofactor.TOTP_DEVICE_NAME, confirmed=True)
    return device


def token_for(user_or_device) -> str:
    """The current code of the user's (or this) TOTP device. A code is accepted once per 30 s
    step, so the device's last step is forgotten first: a test may log the same user in twice."""
    device = user_or_device if isinstance(user_or_device, SecureTOTPDevice) else confirmed_device(user_or_device)
    SecureTOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None)
    device.refresh_from_db()
    return twofactor.current_token(device)


def pass_second_factor(client: Client, user) -> None:
    """Mark the client's session as verified by the user's (created if needed) TOTP device."""
    device = confirmed_device(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[twofactor.HAS_DEVICE] = True
    session.save()


def force_login_with_second_factor(client: Client, user, backend=None) -> None:
    _force_login(client, user, backend)
    if twofactor.required_for(user):
        pass_second_factor(client, user)


def force_login_password_only(client: Client, user, backend=None) -> None:
    """Logged in with the password, second factor not passed."""
    _force_login(client, user, backend)
