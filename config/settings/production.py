"""Production: every setting that matters comes from the environment, and none has a default.

Start-up (``manage.py`` of any command, gunicorn, Celery) is refused with one message that names
each missing or unsafe variable: no silent fall-back to SQLite, to in-process tasks, to a
development secret key or to localhost links on letters.
"""
import base64
from urllib.parse import urlsplit

import environ

from .base import *  # noqa: F403
from .base import DEV_FIELD_ENCRYPTION_KEY, DEV_FIELD_HASH_KEY, DEV_SECRET_KEY, LOGGING, env
from .errors import ProductionSettingsError

REQUIRED = {
    "DATABASE_URL": "the PostgreSQL database, e.g. postgres://USER:PASSWORD@HOST:5432/NAME",
    "REDIS_URL": "the Celery broker, e.g. redis://HOST:6379/0",
    "PUBLIC_BASE_URL": "where citizens verify letters (printed on each), e.g. https://medassist.example.gov.cn",
    "DJANGO_SECRET_KEY": "50+ random characters from a secret store",
    "DJANGO_ALLOWED_HOSTS": "the site's host names, comma-separated, e.g. medassist.example.gov.cn",
    "FIELD_ENCRYPTION_KEY": ("base64 of 32 random bytes (ID and account numbers, TOTP secrets and stored files at rest), "
                             "e.g. openssl rand -base64 32"),
    "FIELD_HASH_KEY": "base64 of 32 random bytes, not the encryption key (lookup hashes), e.g. openssl rand -base64 32",
}
problems: list[str] = []


def _required(name: str) -> str:
    value = env.str(name, default="").strip()
    if not value:
        problems.append(f"{name} is not set: {REQUIRED[name]}")
    return value


_database_url = _required("DATABASE_URL")
if _database_url:
    try:
        DATABASES = {"default": environ.Env.db_url_config(_database_url)}
    except Exception:  # noqa: BLE001 - any parse failure is the same message
        DATABASES = {"default": {"ENGINE": ""}}
    if DATABASES["default"].get("ENGINE") != "django.db.backends.postgresql":
        problems.append(f"DATABASE_URL must be PostgreSQL (postgres://...), not "
                        f"{urlsplit(_database_url).scheme or _database_url[:10]!r}: {REQUIRED['DATABASE_URL']}")
    DATABASES["default"]["ATOMIC_REQUESTS"] = False
    # One connection per gunicorn/Celery worker thread, kept between requests (docs/operations.md).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.bool("DB_TRANSACTION_POOLER", default=False):
        # Behind PgBouncer in transaction-pooling mode (docs/operations.md): a server connection
        # belongs to a client only for one transaction, so no server-side cursors (``.iterator()``
        # outside a transaction) and no persistent client connections are needed.
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
        DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5))

REDIS_URL = _required("REDIS_URL")
if REDIS_URL and urlsplit(REDIS_URL).scheme not in ("redis", "rediss", "unix"):
    problems.append(f"REDIS_URL must be redis:// or rediss://: {REQUIRED['REDIS_URL']}")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = False

PUBLIC_BASE_URL = _required("PUBLIC_BASE_URL").rstrip("/")
if PUBLIC_BASE_URL and (urlsplit(PUBLIC_BASE_URL).scheme != "https" or not urlsplit(PUBLIC_BASE_URL).netloc):
    problems.append(f"PUBLIC_BASE_URL must be an https:// address, not {PUBLIC_BASE_URL!r}: {REQUIRED['PUBLIC_BASE_URL']}")

SECRET_KEY = _required("DJANGO_SECRET_KEY")
if SECRET_KEY and (len(SECRET_KEY) < 50 or SECRET_KEY == DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure")
                   or len(set(SECRET_KEY)) < 5):
    problems.append("DJANGO_SECRET_KEY is unsafe: it must be 50+ random characters, not the development key")

FIELD_ENCRYPTION_KEY = _required("FIELD_ENCRYPTION_KEY")
FIELD_HASH_KEY = _required("FIELD_HASH_KEY")
for _name, _value, _dev in (("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEY, DEV_FIELD_ENCRYPTION_KEY),
                            ("FIELD_HASH_KEY", FIELD_HASH_KEY, DEV_FIELD_HASH_KEY)):
    if not _value:
        continue
    try:
        _decoded = base64.b64decode(_value, validate=True)
    except ValueError:
        _decoded = b""
    if len(_decoded) != 32 or _value == _dev:
        problems.append(f"{_name} is unsafe: it must be {REQUIRED[_name]}, not the development key")
if FIELD_ENCRYPTION_KEY and FIELD_ENCRYPTION_KEY == FIELD_HASH_KEY:
    problems.append("FIELD_HASH_KEY must differ from FIELD_ENCRYPTION_KEY")
if env("FIELD_ENCRYPTION_ALGORITHM", default="aes-gcm") not in ("aes-gcm", "sm4-gcm"):
    problems.append("FIELD_ENCRYPTION_ALGORITHM must be aes-gcm or sm4-gcm")

_hosts = _required("DJANGO_ALLOWED_HOSTS")
ALLOWED_HOSTS = [host.strip() for host in _hosts.split(",") if host.strip()]
if _hosts and not ALLOWED_HOSTS:
    problems.append(f"DJANGO_ALLOWED_HOSTS names no host: {REQUIRED['DJANGO_ALLOWED_HOSTS']}")
elif "*" in ALLOWED_HOSTS:
    problems.append("DJANGO_ALLOWED_HOSTS must name the site's hosts, not '*'")

if problems:
    raise ProductionSettingsError(problems)

DEBUG = False
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Load balancers and monitoring probe the backend over plain HTTP: /healthz answers them (200/503),
# never a 301 to https.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "organizations.filecrypto.EncryptedFileSystemStorage"},  # encrypted at rest (issue 15)
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
SHOW_DEMO_LOGINS = False  # never list demo accounts in production

# Structured logs: one JSON object per line on stdout (journald / the log shipper keeps them; see
# deploy/ and docs/operations.md for the six-month retention).
LOGGING = {
    **LOGGING,
    "formatters": {**LOGGING["formatters"], "json": {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
    }},
    "handlers": {"console": {"class": "logging.StreamHandler",
                             "formatter": "plain" if env("LOG_FORMAT", default="json") == "plain" else "json"}},
}
