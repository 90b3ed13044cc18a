"""Production refuses unsafe defaults (issue 14): each missing variable is named, none falls back.

Each test starts ``manage.py`` in a subprocess under ``config.settings.production``, as an operator
would; nothing here needs the database or Redis to be reachable (``check`` does not connect).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
SECRET = "prod-" + "x7Gq2mP9vL4kR8tW1zN6bH3jD5fS0aYc" * 2
ALL_SET = {
    "DATABASE_URL": "postgres://medassist@127.0.0.1:5432/medassist",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "PUBLIC_BASE_URL": "https://medassist.example.gov.cn",
    "DJANGO_SECRET_KEY": SECRET,
    "DJANGO_ALLOWED_HOSTS": "medassist.example.gov.cn",
    "FIELD_ENCRYPTION_KEY": "cHJvZC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=",  # b"prod-field-encryption-key-32byte"
    "FIELD_HASH_KEY": "cHJvZC1maWVsZC1oYXNoLWtleS0tLS0tLS0tLTMyYnk=",
}

pytestmark = pytest.mark.slow


def production_env(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ALL_SET and not k.startswith(("DJANGO_", "CELERY_"))}
    env.update(ALL_SET, DJANGO_SETTINGS_MODULE="config.settings.production")
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(*args: str, **overrides: str | None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=production_env(**overrides),
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_passes_with_every_variable_set():
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # nothing but what the command is for (no AXES: BEGIN line)
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


@pytest.mark.parametrize("variable", list(ALL_SET))
def test_check_deploy_fails_naming_each_missing_variable(variable):
    result = manage("check", "--deploy", **{variable: None})
    assert result.returncode == 1
    assert f"{variable} is not set" in result.stderr
    assert "Traceback" not in result.stderr  # a message for an operator, not a stack
    others = [name for name in ALL_SET if name != variable]
    assert not any(f"{name} is not set" in result.stderr for name in others)


def test_every_missing_variable_is_named_at_once():
    result = manage("check", "--deploy", **dict.fromkeys(ALL_SET))
    assert result.returncode == 1
    assert all(f"{name} is not set" in result.stderr for name in ALL_SET), result.stderr


@pytest.mark.parametrize("variable, value, message", [
    ("DATABASE_URL", "sqlite:///db.sqlite3", "DATABASE_URL must be PostgreSQL"),
    ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL must be PostgreSQL"),
    ("REDIS_URL", "memory://", "REDIS_URL must be redis://"),
    ("PUBLIC_BASE_URL", "http://127.0.0.1:8000", "PUBLIC_BASE_URL must be an https:// address"),
    ("DJANGO_SECRET_KEY", "insecure-dev-key-change-me-0123456789abcdefghijklmnop", "DJANGO_SECRET_KEY is unsafe"),
    ("DJANGO_SECRET_KEY", "short", "DJANGO_SECRET_KEY is unsafe"),
    ("DJANGO_ALLOWED_HOSTS", "*", "DJANGO_ALLOWED_HOSTS must name the site's hosts"),
    ("DJANGO_ALLOWED_HOSTS", " , ", "DJANGO_ALLOWED_HOSTS names no host"),
    ("FIELD_ENCRYPTION_KEY", "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI=", "FIELD_ENCRYPTION_KEY is unsafe"),
    ("FIELD_ENCRYPTION_KEY", "c2hvcnQ=", "FIELD_ENCRYPTION_KEY is unsafe"),
    ("FIELD_HASH_KEY", "not base64!", "FIELD_HASH_KEY is unsafe"),
    ("FIELD_HASH_KEY", "cHJvZC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=", "FIELD_HASH_KEY must differ from FIELD_ENCRYPTION_KEY"),
    ("FIELD_ENCRYPTION_ALGORITHM", "des", "FIELD_ENCRYPTION_ALGORITHM must be aes-gcm or sm4-gcm"),
])
def test_unsafe_values_are_refused(variable, value, message):
    result = manage("check", **{variable: value})
    assert result.returncode == 1 and message in result.stderr, result.stderr


def test_wsgi_and_celery_refuse_too():
    """gunicorn and Celery import the same settings: they stop with the same message."""
    env = production_env(REDIS_URL=None)
    for code in ("import config.wsgi", "import django; django.setup()"):
        result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode != 0 and "REDIS_URL is not set" in result.stderr


def test_production_never_runs_tasks_in_process_and_keeps_connections():
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL, s.DATABASES['default']['ENGINE'], "
            "s.DATABASES['default']['CONN_MAX_AGE'] > 0, s.CSRF_TRUSTED_ORIGINS)")
    result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=production_env(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "redis://127.0.0.1:6379/0", "django.db.backends.postgresql", "True",
                                     "['https://medassist.example.gov.cn']"]


def test_development_commands_print_only_their_output():
    """The ``AXES: BEGIN ...`` INFO line was printed by every command."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout.strip() == "System check identified no issues (0 silenced)."


@pytest.mark.django_db
def test_collectstatic_with_the_manifest_finds_every_referenced_file(tmp_path, settings):
    """Production's storage is WhiteNoise's compressed *manifest* storage: a vendored CSS/JS file
    that references a missing file (the source maps did) makes collectstatic exit 1 and every page
    using {% static %} answer 500. The manifest part, without compression (slow, and checked by
    the CI deployment smoke test under real production settings)."""
    from io import StringIO

    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
    call_command("collectstatic", "--noinput", stdout=StringIO())
    assert (tmp_path / "staticfiles.json").exists()
    assert list(tmp_path.glob("vendor/bootstrap/css/bootstrap.min.*.css"))
    vendored = (Path(__file__).resolve().parents[2] / "static" / "vendor")
    assert not [p for p in vendored.rglob("*.*s") if "sourceMappingURL" in p.read_text(encoding="utf-8", errors="ignore")]


@pytest.mark.parametrize(("pooler", "expected"), [(None, "False 60"), ("true", "True 0")])
def test_behind_a_transaction_pooler_no_server_side_cursors_and_no_persistent_connections(pooler, expected):
    """docs/operations.md (PgBouncer, transaction pooling): DB_TRANSACTION_POOLER=true turns off
    server-side cursors and persistent client connections, as Django requires behind one."""
    code = ("from django.conf import settings as s; d = s.DATABASES['default']; "
            "print(d.get('DISABLE_SERVER_SIDE_CURSORS', False), d['CONN_MAX_AGE'])")
    result = manage("shell", "-c", code, DB_TRANSACTION_POOLER=pooler)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
