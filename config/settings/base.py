"""Settings shared by every environment, read through one ``environ.Env``."""
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEV_SECRET_KEY = "insecure-dev-key-change-me-0123456789abcdefghijklmnop"  # noqa: S105 - refused by production
SECRET_KEY = env("DJANGO_SECRET_KEY", default=DEV_SECRET_KEY)
# ID and bank account numbers encrypted at rest (organizations.fieldcrypto, docs/security.md):
# base64 of 32 random bytes each, two different keys. These development keys are refused by
# production settings. "sm4-gcm" (with HMAC-SM3) where the deployment's 密评 requires 商用密码.
DEV_FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI="  # b"dev-only-field-encryption-key-32"
DEV_FIELD_HASH_KEY = "ZGV2LW9ubHktZmllbGQtaGFzaC1rZXktMzItYnl0ZXM="  # b"dev-only-field-hash-key-32-bytes"
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default=DEV_FIELD_ENCRYPTION_KEY)
FIELD_HASH_KEY = env("FIELD_HASH_KEY", default=DEV_FIELD_HASH_KEY)
FIELD_ENCRYPTION_ALGORITHM = env("FIELD_ENCRYPTION_ALGORITHM", default="aes-gcm")
FIELD_HASH_ALGORITHM = env("FIELD_HASH_ALGORITHM", default="")  # "" = hmac-sha256, hmac-sm3 with sm4-gcm
# During a key rotation: the previous key(s), read until `manage.py reencrypt_numbers` has run.
FIELD_ENCRYPTION_OLD_KEYS = env.list("FIELD_ENCRYPTION_OLD_KEYS", default=[])
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # third party
    "crispy_forms",
    "crispy_bootstrap5",
    "django_filters",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "ninja",
    "django_celery_beat",
    # ours
    "organizations",
    "policies",
    "beneficiaries",
    "claims",
    "applications",
    "reports",
    "monitoring",
    "simulation",
    "api",
    "operations",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy with a per-response nonce (request.csp_nonce), see CONTENT_SECURITY_POLICY
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # after WhiteNoise (static files stay cacheable): no-store and Permissions-Policy on the rest
    "audit.middleware.PrivacyHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "organizations.middleware.DefaultLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # user.is_verified(): passed the second factor
    "django.contrib.messages.middleware.MessageMiddleware",
    # after MessageMiddleware: "recorded; the letter will be produced when the task service is back"
    "operations.middleware.OutboxNoticeMiddleware",
    # after MessageMiddleware: it tells the user why they were logged out
    "organizations.middleware.SessionTimeoutMiddleware",
    # after the timeout: a user who must pass the second factor reaches nothing else until then
    "organizations.twofactor.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    "api.middleware.ApiAccessLogMiddleware",
    # every file a signed-in user downloads goes to the access log (audit.AccessLog)
    "audit.middleware.ExportLogMiddleware",
]

# Content-Security-Policy (django-csp): scripts and styles only from our own static files or an
# element carrying this response's nonce; no inline style="" or on…="" attributes, no eval, no
# plugins, no other origin (intranet: no CDN). data: images for Bootstrap's SVG icons in its CSS.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    },
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "organizations.context_processors.staff",
            ],
            "builtins": ["organizations.templatetags.money"],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): lock the username whatever the address (an attacker cannot
# keep guessing one account by switching addresses), and an address only when failures from it
# name many usernames (password spraying): one typist cannot lock out an office behind one
# address (organizations.security.lockout_parameters, docs/security.md).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)  # hours
AXES_LOCKOUT_PARAMETERS = "organizations.security.lockout_parameters"
AXES_ADDRESS_USERNAME_LIMIT = env.int("AXES_ADDRESS_USERNAME_LIMIT", default=10)

# Roster import previews (beneficiaries.imports): each looks up every number of a file, so the
# file is capped (rows and bytes) and previews are rate-limited per user (issue 15).
ROSTER_IMPORT_MAX_ROWS = env.int("ROSTER_IMPORT_MAX_ROWS", default=100_000)
ROSTER_IMPORT_MAX_BYTES = env.int("ROSTER_IMPORT_MAX_BYTES", default=10 * 1024 * 1024)
ROSTER_PREVIEWS_PER_MINUTE = env.int("ROSTER_PREVIEWS_PER_MINUTE", default=5)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind N reverse proxies, count failures against the real client (see organizations.security).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "organizations.security.client_ip"

# Second factor (django-otp, organizations.twofactor): TOTP, required for reviewers and
# administrators. Wrong codes slow down exponentially per device (throttle factor, seconds).
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="医疗救助经办系统")
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1

# Caseworker sessions: idle timeout and an absolute limit (not Django's two-week default).
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=30 * 60)
SESSION_ABSOLUTE_TIMEOUT = env.int("SESSION_ABSOLUTE_TIMEOUT_SECONDS", default=10 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "organizations.filecrypto.EncryptedFileSystemStorage"},  # encrypted at rest (issue 15)
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# Claim attachments (出院小结 etc.): outside MEDIA_ROOT and any web root, no URL; served only by
# claims.views.AttachmentDownloadView after the scope check (issue 18).
ATTACHMENTS_ROOT = Path(env("ATTACHMENTS_ROOT", default=str(BASE_DIR / "private" / "attachments")))
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# Uploads within the caps stay in memory until the encrypted storage writes them (issue 15): never a
# clear copy in FILE_UPLOAD_TEMP_DIR. Larger files (settlement files have no cap) pass through a
# temporary file for the request's duration (docs/security.md "Stored files").
FILE_UPLOAD_MAX_MEMORY_SIZE = max(ROSTER_IMPORT_MAX_BYTES, ATTACHMENT_MAX_BYTES) + 1024 * 1024

# The login page lists the demo accounts (README.md) only where this is on (local settings).
SHOW_DEMO_LOGINS = env.bool("SHOW_DEMO_LOGINS", default=False)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Celery: JSON only, late acks so a killed worker's task runs again (tasks are idempotent).
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
# Must exceed the longest task (time limit above), or Redis re-delivers a task still running.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 10 * 60}
# Short broker timeouts: a request never waits long for a Redis that is down (operations.outbox
# sends with one attempt and no result-backend round trip; the sweeper sends what is left).
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = CELERY_BROKER_CONNECTION_TIMEOUT
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = CELERY_BROKER_CONNECTION_TIMEOUT
CELERY_REDIS_SOCKET_TIMEOUT = env.float("CELERY_REDIS_SOCKET_TIMEOUT", default=10.0)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
NIGHTLY_HOUR = env.int("NIGHTLY_HOUR", default=2)
# Beat entries kept in code (the database scheduler installs them); the nightly run is a row
# created by monitoring's migration so that administrators can move it.
CELERY_BEAT_SCHEDULE = {
    "operations.outbox_sweep": {"task": "operations.outbox_sweep", "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=60.0)},
}

# Transactional outbox (operations.outbox) and health (/healthz).
OUTBOX_CONNECT_TIMEOUT = env.float("OUTBOX_CONNECT_TIMEOUT", default=1.0)
OUTBOX_SENDING_STALE = 120  # seconds a row may stay "sending" (its sender died) before it is re-sent
OUTBOX_RESEND_AFTER = env.int("OUTBOX_RESEND_AFTER", default=6 * 3600)  # sent, never started
OUTBOX_RESEND_STARTED_AFTER = 2 * CELERY_TASK_TIME_LIMIT  # started, never finished (worker lost)
OUTBOX_ALERT_SECONDS = env.int("OUTBOX_ALERT_SECONDS", default=10 * 60)  # /healthz "degraded" beyond
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=15)
NIGHTLY_STALE_HOURS = env.int("NIGHTLY_STALE_HOURS", default=26)

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # page-by-page progress of every PDF: noise at INFO
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # "AXES: BEGIN version ..." on every start-up: commands print only what they are for
        "axes.apps": {"level": "WARNING"},
    },
}

# The project's own worked scenarios (policies/scenarios/*.yaml): `make test` runs every one.
SCENARIOS_DIR = BASE_DIR / "policies" / "scenarios"

# Where citizens reach /verify/<code> (printed on every decision letter).
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="")
