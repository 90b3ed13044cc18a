"""Deployment smoke test: the production settings, as an operator deploys them, actually serve.

    .venv/bin/python scripts/smoke_deploy.py      # needs PostgreSQL and Redis (.ci/run runs it)

In a scratch PostgreSQL database (created and dropped here) and a scratch static/media folder:
``collectstatic``, ``migrate``, the demo data, then **gunicorn** under
``config.settings.production`` on ``SMOKE_PORT`` (8140), and over HTTP:

- ``/healthz`` over plain HTTP (no 301: load balancers probe the backend without TLS) → 200;
- the login page → 200; sign in as a demo caseworker → the dashboard → 200;
- a decision letter's PDF → 200, ``application/pdf``, starting with ``%PDF``.

Requests other than /healthz carry ``X-Forwarded-Proto: https`` as nginx sets it. Exit status 1
(with what failed and gunicorn's log) when any step fails.
"""
from __future__ import annotations

import base64
import http.cookies
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST = "medassist.example.gov.cn"
PORT = int(os.environ.get("SMOKE_PORT", "8140"))
PG = os.environ.get("SMOKE_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/15")
USER, PASSWORD = "jingban", "demo-jingban-2026"  # created by seed_demo (README)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fail(message: str, log: Path | None = None) -> None:
    print(f"smoke: FAILED: {message}", file=sys.stderr)
    if log and log.exists():
        print("---- gunicorn log (last 60 lines) ----", file=sys.stderr)
        print("\n".join(log.read_text(errors="replace").splitlines()[-60:]), file=sys.stderr)
    sys.exit(1)


def run(args: list[str], env: dict[str, str], what: str) -> str:
    started = time.monotonic()
    result = subprocess.run([PY, "manage.py", *args], cwd=BASE, env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        fail(f"{what} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    print(f"smoke: {what}: ok ({time.monotonic() - started:.0f}s)")
    return result.stdout


def psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG}/postgres", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,  # noqa: S603,S607
                   capture_output=True)


def main() -> int:
    name = f"smoke_{os.getpid()}"
    scratch = Path(tempfile.mkdtemp(prefix="medassist-smoke-"))
    log = scratch / "gunicorn.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production", DATABASE_URL=f"{PG}/{name}", REDIS_URL=REDIS,
        PUBLIC_BASE_URL=f"https://{HOST}", DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_ALLOWED_HOSTS=HOST,
        FIELD_ENCRYPTION_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        FIELD_HASH_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        STATIC_ROOT=str(scratch / "static"), MEDIA_ROOT=str(scratch / "media"), TRUSTED_PROXY_COUNT="1",
    )
    psql(f'CREATE DATABASE "{name}"')
    server = None
    try:
        run(["check", "--deploy", "--fail-level", "WARNING"], env, "check --deploy")
        run(["collectstatic", "--noinput", "-v", "0"], env, "collectstatic")
        run(["migrate", "--noinput", "-v", "0"], env, "migrate")
        run(["seed_demo"], env, "seed_demo")
        letter = run(["shell", "-c", "from reports.models import Letter; print(Letter.objects.order_by('pk').values_list('pk', flat=True).first())"],
                     env, "a letter to fetch").strip().splitlines()[-1]
        if not letter.isdigit():
            fail(f"the demo has no letter ({letter!r})")
        server = subprocess.Popen(  # noqa: S603
            [str(Path(PY).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{PORT}", "--workers", "2",
             "--timeout", "120", "--access-logfile", "-"], cwd=BASE, env=env, stdout=log.open("w"),
            stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{PORT}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(f"{base}/healthz", headers={"Host": HOST}), timeout=5)  # noqa: S310
                break
            except urllib.error.HTTPError:
                break  # it answers (the status is checked below)
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    fail("gunicorn did not start", log)
                time.sleep(0.5)
        print("smoke: gunicorn started")

        plain = urllib.request.build_opener(NoRedirect)
        try:
            response = plain.open(urllib.request.Request(f"{base}/healthz", headers={"Host": HOST}), timeout=10)  # noqa: S310
            status, body = response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()[:300]
        if status != 200 or body.get("database") != "ok" or body.get("broker") != "ok":
            fail(f"/healthz over plain HTTP answered {status}: {body}", log)
        print(f"smoke: /healthz over plain HTTP: 200 {body['status']}")

        # Cookies by hand: they are Secure (https behind nginx), which a cookie jar would not send
        # back over this plain-HTTP hop to gunicorn.
        cookies: dict[str, str] = {}
        browser = urllib.request.build_opener(NoRedirect)
        https = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.10"}

        def remember(response):
            for header in response.headers.get_all("Set-Cookie") or []:
                jar = http.cookies.SimpleCookie(header)
                cookies.update({key: morsel.value for key, morsel in jar.items()})
            return response

        def headers(**extra: str) -> dict[str, str]:
            return {**https, **extra, "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}

        def get(path: str):
            try:
                return remember(browser.open(urllib.request.Request(base + path, headers=headers()), timeout=30))  # noqa: S310
            except urllib.error.HTTPError as exc:
                return remember(exc)

        page = get("/accounts/login/")
        html = page.read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if page.status != 200 or not token:
            fail(f"login page answered {page.status}", log)
        print("smoke: login page: 200")
        form = urllib.parse.urlencode({"username": USER, "password": PASSWORD,
                                       "csrfmiddlewaretoken": token.group(1)}).encode()
        request = urllib.request.Request(base + "/accounts/login/", data=form, headers=headers(  # noqa: S310
            Referer=f"https://{HOST}/accounts/login/", **{"Content-Type": "application/x-www-form-urlencoded"}))
        try:
            answer = remember(browser.open(request, timeout=30))
        except urllib.error.HTTPError as exc:
            answer = remember(exc)
        if answer.status != 302:
            fail(f"signing in answered {answer.status} (expected a redirect)", log)
        dashboard = get("/")
        page = dashboard.read().decode()
        # Signed in: the navbar carries the sign-out form (the page shows the user's name, not the login).
        if dashboard.status != 200 or 'action="/accounts/logout/"' not in page or 'name="password"' in page:
            fail(f"the signed-in dashboard answered {dashboard.status} without the signed-in navbar", log)
        print("smoke: signed-in dashboard: 200")
        pdf = get(f"/reports/letters/{letter}/pdf")
        data = pdf.read()
        if pdf.status != 200 or pdf.headers.get("Content-Type") != "application/pdf" or not data.startswith(b"%PDF"):
            fail(f"letter {letter} PDF answered {pdf.status} {pdf.headers.get('Content-Type')}", log)
        print(f"smoke: letter PDF: 200 ({len(data)} bytes)")
        print("smoke: deployment smoke test passed")
        return 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        try:
            psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
