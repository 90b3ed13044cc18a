"""Second factor at login (django-otp): a TOTP app for staff, recovery codes.

Required for reviewers (医保审核) and administrators (and anyone reaching ``/admin/``: staff
flag or superuser); optional for the other roles, but once a user has confirmed a device the
second factor is asked at every login. After the password, a user who must pass it reaches only
the verification page (or, without a confirmed device, the enrolment page), the logout and the
language switch: :class:`SecondFactorMiddleware`.

See docs/security.md ("Second factor").
"""
from __future__ import annotations

import base64
import io
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django_otp import user_has_device

from . import roles
from .otp_devices import RecoveryCode, RecoveryCodeDevice, SecureTOTPDevice

REQUIRED_ROLES = (roles.REVIEWER, roles.ADMINISTRATOR)
RECOVERY_CODE_COUNT = 10
RECOVERY_DEVICE_NAME = "recovery"
TOTP_DEVICE_NAME = "totp"
# Session flag set at login: does this user have a confirmed device? (saves a query per request)
HAS_DEVICE = "_otp_has_device"


def required_for(user) -> bool:
    """Must this user pass the second factor? Reviewers, administrators, superusers, staff."""
    return bool(user.is_staff or roles.has_role(user, *REQUIRED_ROLES))


def has_device(request) -> bool:
    flag = request.session.get(HAS_DEVICE)
    if flag is None:
        flag = user_has_device(request.user, confirmed=True)
        request.session[HAS_DEVICE] = flag
    return bool(flag)


def mark_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in`` receiver: remember whether the user has a confirmed device."""
    if request is not None and hasattr(request, "session"):
        request.session[HAS_DEVICE] = user_has_device(user, confirmed=True)


def _exempt_paths() -> tuple[str, ...]:
    return (
        reverse("login"), reverse("logout"), reverse("otp_verify"), reverse("otp_enrol"),
        reverse("set_language"), reverse("healthz"),
    )


def _exempt_prefixes() -> tuple[str, ...]:
    return (settings.STATIC_URL, "/verify/")


class SecondFactorMiddleware:
    """After the password, nothing but the second factor (or its enrolment) until it is passed.

    Install after ``django_otp.middleware.OTPMiddleware`` (which gives ``user.is_verified()``).
    Bearer-token API calls carry no session user and are not concerned.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not user.is_verified() and not self._exempt(request.path_info):
            if has_device(request):
                return self._to("otp_verify", request)
            if required_for(user):
                return self._to("otp_enrol", request)
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        return path in _exempt_paths() or path.startswith(_exempt_prefixes())

    @staticmethod
    def _to(url_name: str, request):
        url = reverse(url_name)
        if request.method == "GET":
            url += "?" + urlencode({"next": request.get_full_path()})
        return redirect(url)


# ------------------------------------------------------------------------------------------
# Devices
# ------------------------------------------------------------------------------------------

def pending_device(user) -> SecureTOTPDevice:
    """The user's unconfirmed TOTP device being enrolled (the same one across reloads)."""
    device = SecureTOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = SecureTOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


@transaction.atomic
def confirm_enrolment(user, device: SecureTOTPDevice) -> list[str]:
    """Make ``device`` the user's only TOTP device and issue fresh recovery codes (returned
    once, to be shown once; any earlier device and codes stop working)."""
    SecureTOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    RecoveryCodeDevice.objects.filter(user=user).delete()
    recovery = RecoveryCodeDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [RecoveryCodeDevice.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create([RecoveryCode(device=recovery, token=code) for code in codes])
    return codes


def secret_base32(device: SecureTOTPDevice) -> str:
    """The secret as typed into an authenticator app by hand: base32, in groups of four."""
    raw = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def qr_svg(text: str) -> SafeString:
    """A QR code as inline SVG, rendered here (no external service, no CDN)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode("utf-8")
    if svg.startswith("<?xml"):
        svg = svg.split("?>", 1)[1]
    return mark_safe(svg)  # noqa: S308 - generated by qrcode from our own otpauth URL, no user HTML


def current_token(device: SecureTOTPDevice) -> str:
    """The code an authenticator app shows now for ``device`` (demo page and tests)."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"
