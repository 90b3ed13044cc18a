"""Tests: SQLite in memory unless DATABASE_URL points at PostgreSQL (CI)."""
from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if not env("DATABASE_URL", default=""):
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "test.sqlite3"}}
MEDIA_ROOT = BASE_DIR / ".test-media"
ATTACHMENTS_ROOT = BASE_DIR / ".test-media-private"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
LANGUAGE_CODE = "zh-hans"

# Tasks run in-process in tests even where REDIS_URL is set (CI): a unit test must never wait for
# a worker that is not there (``.delay().get()`` would block forever). The broker is still Redis,
# and tests that exercise a real worker (marker ``celery_worker``) turn eager off for themselves.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
