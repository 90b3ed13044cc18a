"""Check deploy/: the units, the nginx site and the log retention say what docs/operations.md says.

    .venv/bin/python scripts/check_deploy_files.py      # exit 1 with one line per problem
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SIX_MONTHS_DAYS = 183


def problems() -> list[str]:
    out = []
    units = {p.name: p.read_text(encoding="utf-8") for p in (DEPLOY / "systemd").glob("*.service")}
    beats = [n for n, t in units.items() if re.search(r"celery -A config beat", t)]
    if len(beats) != 1:
        out.append(f"exactly one beat unit is required, found {beats}")
    if not any("gunicorn config.wsgi" in t for t in units.values()):
        out.append("no gunicorn unit")
    if not any("celery -A config worker" in t for t in units.values()):
        out.append("no Celery worker unit")
    for name, text in units.items():
        if "EnvironmentFile=/etc/medassist/medassist.env" not in text:
            out.append(f"{name}: does not read /etc/medassist/medassist.env")
    env = (DEPLOY / "systemd" / "medassist.env.example").read_text(encoding="utf-8")
    for var in ("DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS",
                "FIELD_ENCRYPTION_KEY", "FIELD_HASH_KEY"):
        if not re.search(rf"^{var}=", env, re.M):
            out.append(f"medassist.env.example lacks {var}")
    nginx = (DEPLOY / "nginx" / "medassist.conf").read_text(encoding="utf-8")
    for needle, why in (("listen 443 ssl", "TLS termination"), ("location /static/", "static files"),
                        ("location = /healthz", "plain-HTTP health probe"),
                        ("X-Forwarded-Proto https", "the scheme for SECURE_PROXY_SSL_HEADER")):
        if needle not in nginx:
            out.append(f"nginx site lacks {why} ({needle!r})")
    rotate = (DEPLOY / "logrotate" / "medassist").read_text(encoding="utf-8")
    daily, kept = "daily" in rotate, re.search(r"^\s*rotate\s+(\d+)", rotate, re.M)
    if not (daily and kept and int(kept.group(1)) >= SIX_MONTHS_DAYS):
        out.append(f"logrotate must keep daily logs >= {SIX_MONTHS_DAYS} days (网络安全法 第二十一条)")
    journal = (DEPLOY / "journald" / "medassist.conf").read_text(encoding="utf-8")
    kept_days = re.search(r"MaxRetentionSec=(\d+)day", journal)
    if not (kept_days and int(kept_days.group(1)) >= SIX_MONTHS_DAYS and "Storage=persistent" in journal):
        out.append(f"journald must persist application logs >= {SIX_MONTHS_DAYS} days")
    return out


if __name__ == "__main__":
    found = problems()
    for line in found:
        print(f"deploy: {line}", file=sys.stderr)
    print("deploy files: ok" if not found else f"deploy files: {len(found)} problem(s)")
    sys.exit(1 if found else 0)
