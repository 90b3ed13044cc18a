"""Load test a running server the way a district office uses it: N caseworkers at once.

    .venv/bin/python benchmarks/load_test.py --base http://127.0.0.1:8000 \\
        --user jingban:demo-jingban-2026 --reviewer shenhe:demo-shenhe-2026 --reviewer-totp <hex> \\
        [--clients 20] [--requests 2000] [--seconds 180] [--writes]

Each virtual caseworker logs in once, then loops over a weighted mix of what a caseworker does
all day: the claim list, the bill list, a deep bill page (following "next" several times), a
claim detail, a person detail, a search, the application list, the fund report; with ``--writes``
a reviewer also approves submitted claims (this changes data: use a copy of the database). The
floor is in the same mix, so under the same load: a signed-in ``/healthz``. It prints, per page
kind, the count, p50, p95 and max of the response time seen by the client and both percentiles
against the floor's, and every error (status ≥ 400 or a connection failure).

Bounded on purpose: it stops after ``--requests`` requests in all or ``--seconds`` seconds,
whichever comes first, and it refuses any address that is not this machine (127.0.0.0/8, ::1,
localhost): a load test is never pointed at another host. Standard library only, so a district IT
person can run it on the server itself without installing anything.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import http.cookiejar
import ipaddress
import os
import random
import re
import statistics
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict

MIX = [  # (page kind, weight)
    ("claim_list", 25),
    ("bill_list", 20),
    ("bill_deep", 5),
    ("claim_detail", 15),
    ("person_detail", 10),
    ("search", 10),
    ("application_list", 5),
    ("fund_report", 10),
    # the floor, in the same mix and so under the same load: a signed-in /healthz (one small
    # query per check, no template); every page's ratio is printed against it (issue 20)
    ("floor_healthz", 5),
]
FLOOR = "floor_healthz"
CLAIM_LINK = re.compile(r'href="(/claims/\d+/)"')
PERSON_LINK = re.compile(r'href="(/beneficiaries/persons/\d+/)"')
NEXT_LINK = re.compile(r'href="(\?[^"]+)"[^>]*>\s*(?:下一页|Next)')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def loopback_only(base: str) -> None:
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https"):
        sys.exit(f"refusing {base!r}: http:// or https:// only")
    host = parts.hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    sys.exit(f"refusing {host!r}: the load test only targets this machine (127.0.0.1, ::1, localhost)")


def totp(hex_key: str, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 code of a hex secret (the reviewer's authenticator), standard library only."""
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(bytes.fromhex(hex_key), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


class Session:
    """One signed-in browser: cookies, CSRF token, the links it has seen. Reviewers must pass the
    second factor: give their authenticator's hex secret as ``totp_key``."""

    def __init__(self, base: str, username: str, password: str, totp_key: str | None = None):
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.claims: list[str] = []
        self.persons: list[str] = []
        page = self.get("/accounts/login/")[1]
        token = CSRF.search(page)
        if not token:
            raise SystemExit("no CSRF token on the login page")
        status, body = self.post("/accounts/login/", {"username": username, "password": password,
                                                      "csrfmiddlewaretoken": token.group(1)})
        if "/accounts/login/" in self.last_url:
            raise SystemExit(f"login as {username} failed (status {status})")
        if "/accounts/2fa/" in self.last_url:
            if not totp_key:
                raise SystemExit(f"{username} must pass the second factor: give --reviewer-totp <hex secret>")
            page = self.get("/accounts/2fa/")[1]
            token = CSRF.search(page)
            self.post("/accounts/2fa/", {"otp_token": totp(totp_key),
                                         "csrfmiddlewaretoken": token.group(1) if token else ""})
            if "/accounts/2fa/" in self.last_url:
                raise SystemExit(f"second factor for {username} refused (wrong secret, or this 30 s code already used)")

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))  # noqa: S310 (base checked: http(s), loopback)

    def post(self, path: str, data: dict) -> tuple[int, str]:
        request = urllib.request.Request(  # noqa: S310 (base checked: http(s), loopback)
            self.base + path, data=urllib.parse.urlencode(data).encode(), headers={"Referer": self.base + path})
        return self._open(request)

    def _open(self, request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=60) as response:
                self.last_url = response.geturl()
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            self.last_url = request.full_url
            return exc.code, ""

    def learn(self, body: str) -> None:
        self.claims = (CLAIM_LINK.findall(body) or self.claims)[:50]
        self.persons = (PERSON_LINK.findall(body) or self.persons)[:50]


def run(args) -> int:
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    budget = {"left": args.requests}
    deadline = time.monotonic() + args.seconds
    kinds, weights = zip(*MIX, strict=True)

    def take() -> bool:
        with lock:
            if budget["left"] <= 0 or time.monotonic() > deadline:
                return False
            budget["left"] -= 1
            return True

    def record(kind: str, started: float, status: int, path: str) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            timings[kind].append(elapsed)
            if status >= 400 or status == 0:
                errors.append(f"{kind} {path} → {status}")

    def caseworker(index: int) -> None:
        rng = random.Random(index)
        username, password = args.user.split(":", 1)
        session = Session(args.base, username, password)
        session.learn(session.get("/claims/")[1])
        session.learn(session.get("/claims/bills/")[1])
        while take():
            kind = rng.choices(kinds, weights)[0]
            path = {
                "claim_list": "/claims/",
                "bill_list": "/claims/bills/",
                "claim_detail": rng.choice(session.claims) if session.claims else "/claims/",
                "person_detail": rng.choice(session.persons) if session.persons else "/beneficiaries/",
                "search": "/claims/?q=" + urllib.parse.quote(rng.choice(["王", "李", "张", "1234", "0001"])),
                "application_list": "/applications/",
                "fund_report": "/reports/r/fund/",
                FLOOR: "/healthz",
            }.get(kind)
            started = time.perf_counter()
            if kind == "bill_deep":
                status, body, path = 200, session.get("/claims/bills/")[1], "/claims/bills/ → next×5"
                for _ in range(5):
                    link = NEXT_LINK.search(body)
                    if not link:
                        break
                    status, body = session.get("/claims/bills/" + link.group(1).replace("&amp;", "&"))
            else:
                status, body = session.get(path)
                if kind in ("claim_list", "bill_list"):
                    session.learn(body)
            record(kind, started, status, path)

    def reviewer() -> None:
        username, password = args.reviewer.split(":", 1)
        session = Session(args.base, username, password, totp_key=args.reviewer_totp)
        while take():
            body = session.get("/claims/?status=submitted")[1]
            links = CLAIM_LINK.findall(body)
            if not links:
                time.sleep(1)
                continue
            page = session.get(links[0])[1]
            token = CSRF.search(page)
            started = time.perf_counter()
            # "confirmed": the decision is final, so the page asks once more (organizations.confirm);
            # without it the POST only renders the confirmation and approves nothing
            status, _ = session.post(links[0] + "decide/", {"action": "approve", "note": "load test", "confirmed": "1",
                                                           "csrfmiddlewaretoken": token.group(1) if token else ""})
            if status < 400 and session.last_url.rstrip("/").endswith("/decide"):
                status = 0  # not redirected to the claim: the decision was not taken
            record("approve", started, status, links[0])

    threads = [threading.Thread(target=caseworker, args=(i,), daemon=True) for i in range(args.clients)]
    if args.writes and args.reviewer:
        threads.append(threading.Thread(target=reviewer, daemon=True))
    started = time.monotonic()
    load_before = os.getloadavg()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=args.seconds + 120)
    elapsed = time.monotonic() - started

    total = sum(len(v) for v in timings.values())
    print(f"{total:,} requests from {args.clients} clients in {elapsed:.1f} s = {total / elapsed:.1f} req/s; "
          f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    for line in summary(timings):
        print(line)
    print(f"errors: {len(errors)}")
    for line in errors[:20]:
        print("  " + line)
    return 1 if errors else 0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (q in 0..1)."""
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def summary(timings: dict[str, list[float]]) -> list[str]:
    """One line per page kind: count, p50, p95, max, and p50 / p95 against the floor's
    (``/healthz`` signed in, measured in the same mix, so under the same load)."""
    floor = sorted(timings.get(FLOOR, []))
    floor_p50 = statistics.median(floor) if floor else None
    floor_p95 = percentile(floor, 0.95) if floor else None
    lines = [f"{'page':<18}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'p50/floor':>11}{'p95/floor':>11}"]
    for kind in [k for k, _ in MIX] + ["approve"]:
        values = sorted(timings.get(kind, []))
        if not values:
            continue
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        r50 = f"{p50 / floor_p50:.1f}x" if floor_p50 else "-"
        r95 = f"{p95 / floor_p95:.1f}x" if floor_p95 else "-"
        lines.append(f"{kind:<18}{len(values):>7}{p50:>9.0f}{p95:>9.0f}{values[-1]:>9.0f}{r50:>11}{r95:>11}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="jingban:demo-jingban-2026", help="caseworker username:password")
    parser.add_argument("--reviewer", default="shenhe:demo-shenhe-2026", help="reviewer username:password")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000, help="stop after this many requests in all")
    parser.add_argument("--seconds", type=int, default=180, help="stop after this many seconds")
    parser.add_argument("--reviewer-totp", default=None,
                        help="the reviewer's authenticator secret (hex): reviewers must pass the second factor")
    parser.add_argument("--writes", action="store_true", help="a reviewer approves submitted claims (changes data)")
    args = parser.parse_args()
    loopback_only(args.base)
    args.requests = min(args.requests, 100_000)
    args.seconds = min(args.seconds, 3600)
    sys.exit(run(args))


if __name__ == "__main__":
    main()
