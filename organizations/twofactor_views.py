"""Second-factor screens: verification after the password, enrolment with a QR code, recovery
codes shown once. Rules in :mod:`organizations.twofactor`."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render, resolve_url
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp import match_token, user_has_device

from organizations.permissions import PermissionRequiredMixin

from . import twofactor
from .otp_devices import RecoveryCodeDevice, SecureTOTPDevice


class TokenForm(forms.Form):
    otp_token = forms.CharField(
        label=_("验证码"), max_length=16, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text=_("身份验证器应用显示的6位数字；手机不在身边时可输入一个恢复码。"),
    )

    def clean_otp_token(self) -> str:
        return "".join(self.cleaned_data["otp_token"].split()).lower()


class EnrolForm(forms.Form):
    otp_token = forms.CharField(
        label=_("验证码"), max_length=6, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text=_("扫码或输入密钥后，填写应用显示的6位数字以确认绑定。"),
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _demo_code(user) -> str | None:
    """On the demo only (``SHOW_DEMO_LOGINS``), the current code of a demo user's device."""
    if not settings.SHOW_DEMO_LOGINS:
        return None
    from .demo import DEMO_TOTP_KEY, DEMO_USERS

    if user.get_username() not in {u.username for u in DEMO_USERS}:
        return None
    device = next((d for d in SecureTOTPDevice.objects.filter(user=user, confirmed=True) if d.key == DEMO_TOTP_KEY), None)
    return twofactor.current_token(device) if device else None


@method_decorator(never_cache, name="dispatch")
class VerifyView(PermissionRequiredMixin, View):
    """二次验证: the code of the user's authenticator app, or one recovery code."""

    permission = "signed_in"

    template_name = "registration/otp_verify.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            if request.user.is_verified():
                return redirect(_next_url(request))
            if not user_has_device(request.user, confirmed=True):
                request.session[twofactor.HAS_DEVICE] = False
                if twofactor.required_for(request.user):
                    return redirect(resolve_url("otp_enrol") + "?" + request.GET.urlencode())
                return redirect(_next_url(request))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        return self._render(request, TokenForm())

    def post(self, request):
        form = TokenForm(request.POST)
        if form.is_valid():
            device = match_token(request.user, form.cleaned_data["otp_token"])
            if device is not None:
                otp_login(request, device)
                if isinstance(device, RecoveryCodeDevice):
                    left = device.codes.count()
                    messages.warning(request, _("已使用一个恢复码，还剩%(n)s个。手机找回或更换后请重新绑定。") % {"n": left})
                return redirect(_next_url(request))
            form.add_error("otp_token", _("验证码不正确、已使用或已过期；多次错误后需等待片刻再试。"))
        return self._render(request, form)

    def _render(self, request, form):
        return render(request, self.template_name, {
            "form": form, "next": _next_url(request), "demo_code": _demo_code(request.user),
        })


@method_decorator(never_cache, name="dispatch")  # the secret and the recovery codes
class EnrolView(PermissionRequiredMixin, View):
    """绑定身份验证器: QR code and secret of a new TOTP device; confirmed by one code, after
    which the recovery codes are shown, once."""

    permission = "signed_in"

    template_name = "registration/otp_enrol.html"

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        # Replacing a device needs the current one: an unverified user with a device verifies first.
        if user.is_authenticated and not user.is_verified() and user_has_device(user, confirmed=True):
            return redirect(resolve_url("otp_verify") + "?" + request.GET.urlencode())
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        return self._render(request, EnrolForm())

    def post(self, request):
        form = EnrolForm(request.POST)
        device = twofactor.pending_device(request.user)
        if form.is_valid() and device.verify_token(form.cleaned_data["otp_token"]):
            codes = twofactor.confirm_enrolment(request.user, device)
            otp_login(request, device)
            request.session[twofactor.HAS_DEVICE] = True
            return render(request, "registration/otp_recovery_codes.html", {
                "codes": codes, "next": _next_url(request),
            })
        if form.is_valid():
            form.add_error("otp_token", _("验证码不正确，请核对手机时间后重试。"))
        return self._render(request, form, device)

    def _render(self, request, form, device=None):
        device = device or twofactor.pending_device(request.user)
        return render(request, self.template_name, {
            "form": form, "next": _next_url(request),
            "qr_svg": twofactor.qr_svg(device.config_url),
            "secret": twofactor.secret_base32(device),
            "required": twofactor.required_for(request.user),
            "replacing": user_has_device(request.user, confirmed=True),
        })
