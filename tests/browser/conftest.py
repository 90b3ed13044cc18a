"""Browser tests: pytest-playwright driving Debian's Chromium (``playwright install`` cannot
download browsers here). Skipped, with the reason shown, where /usr/bin/chromium is missing
(``scripts/sysdeps.sh`` installs it when it can)."""
import io
import os
from pathlib import Path

import pytest

# live_server runs the app in a thread while Playwright's sync API holds an event loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")

requires_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="browser tests need Chromium at /usr/bin/chromium (apt-get install chromium; make sysdeps does it as root)",
)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": [
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # An English-language browser at desktop width: the interface must still start in Chinese.
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}, "locale": "en-US"}


@pytest.fixture
def demo_site(transactional_db, live_server):
    """The live server with the demo organisations and users (not the other apps' demo data)."""
    from django.core.management import call_command

    from tests.test_i18n import ensure_english_compiled

    ensure_english_compiled()
    call_command("seed_demo", only=["organizations"], stdout=io.StringIO())
    return live_server


def pass_second_factor(page, username: str) -> None:
    """After the password: on the second-factor page, type the code the user's device shows now
    (computed from its secret, tests/otp.py). Nothing to do for a user who is not asked."""
    from django.contrib.auth import get_user_model
    from playwright.sync_api import expect

    from tests.otp import token_for

    page.wait_for_load_state()
    if "/accounts/2fa/" not in page.url:
        return
    expect(page.locator("#id_otp_token")).to_be_visible()
    page.fill("#id_otp_token", token_for(get_user_model().objects.get(username=username)))
    page.click("#otp-submit")
    page.wait_for_load_state()
