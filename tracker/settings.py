"""Settings for the Altinn migration tracker.

One file for every deployment. Each deployment-specific value comes from the environment through the
small typed helpers below, which fail loudly on a bad value instead of guessing. With no environment
at all the tracker runs embedded: SQLite in ``var/``, Celery tasks executed in-process, e-mail to files.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TRACKER_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment, or set DEBUG=1 for a throw-away development key."
        )
    # A fresh key per process is fine for development: sessions simply do not survive a restart.
    SECRET_KEY = "dev-" + secrets.token_urlsafe(40)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "migration_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tracker.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

WSGI_APPLICATION = "tracker.wsgi.application"

# --- Database: SQLite file by default, PostgreSQL (psycopg 3) by DATABASE_URL ---------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # WAL and a busy timeout let the dev server and an import command share the file.
            "OPTIONS": {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Opt in to Django 6's default now: URLs typed without a scheme are https.
FORMS_URLFIELD_ASSUME_HTTPS = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "migration_app:home"
LOGOUT_REDIRECT_URL = "login"

# --- Language and time -------------------------------------------------------------------------
LANGUAGE_CODE = "nb"
LANGUAGES = [("nb", _("Norwegian Bokmål")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "migration_app" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Oslo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [p for p in [BASE_DIR / "node_modules"] if p.exists()]

# --- E-mail: SMTP from the environment; files under var/ when no host is set -------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are mutually exclusive.")
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Migreringssporing <tracker@localhost>")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Celery: Redis broker and result backend from REDIS_URL; in-process without it ---------------
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
# Without a broker the embedded default runs each task in-process, so `make run` needs no server.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Tasks must finish (time limits below) well inside the visibility timeout, or Redis redelivers
# them to a second worker while the first is still running.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
# Separate queues let several deployments (or test runs) share one Redis.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "tracker")
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 900
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Safety net: recompute readiness, leverage, waves and forecast even if an on-commit trigger was
    # lost (for instance while the broker was down).
    "recompute-portfolio-hourly": {
        "task": "migration_app.recompute_portfolio",
        "schedule": crontab(minute=7),
        "options": {"expires": 50 * 60},
    },
    # Store today's progress snapshot shortly after midnight Oslo time, and again in the evening so
    # the day's final figures are kept (re-running a day overwrites that day's rows).
    "progress-snapshot-daily": {
        "task": "migration_app.progress_snapshot_take",
        "schedule": crontab(minute=15, hour="0,23"),
        "options": {"expires": 6 * 3600},
    },
    # The weekly e-mail report for the week that just ended, Monday 07:00 (CELERY_TIMEZONE, Oslo by
    # default): one delivery task per recipient. Expires before the catch-up runs would overlap it.
    "weekly-reports-monday": {
        "task": "migration_app.weekly_reports_fan_out",
        "schedule": crontab(minute=0, hour=7, day_of_week="mon"),
        "options": {"expires": 3 * 3600},
    },
    # Catch-up: the same fan-out hourly from 07:30 to 20:30 every day. It queues only recipients whose
    # report for the last complete week is not sent, so a Monday missed while workers or the mail
    # server were down goes out later the same week instead of being skipped; otherwise it does nothing.
    "weekly-reports-catch-up": {
        "task": "migration_app.weekly_reports_fan_out",
        "schedule": crontab(minute=30, hour="7-20"),
        "options": {"expires": 50 * 60},
    },
}

# --- REST API (docs/api.md) ---------------------------------------------------------------------------
THROTTLE_RATE_UNITS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as "60/minute"; a typo would otherwise only fail on the first request."""
    raw = env_str(name, default).strip()
    count, _slash, unit = raw.partition("/")
    if not count.isdigit() or unit not in THROTTLE_RATE_UNITS:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a rate; use e.g. 60/minute, 10/second or 5000/hour.")
    return raw


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header turns an anonymous request into 401 rather than 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "migration_app.api.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "migration_app.api.pagination.PagePagination",
    "PAGE_SIZE": 100,
    # Rates are per client (token user, or address when anonymous), counted in the default cache.
    "DEFAULT_THROTTLE_CLASSES": [
        "migration_app.api.throttles.AnonThrottle",
        "migration_app.api.throttles.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_THROTTLE_ANON", "60/minute"),
        "user": env_rate("API_THROTTLE_USER", "1200/minute"),
    },
    # How many reverse proxies append to X-Forwarded-For; 0 trusts only REMOTE_ADDR, so an anonymous
    # client cannot dodge its throttle by sending a made-up X-Forwarded-For.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
    "EXCEPTION_HANDLER": "migration_app.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "migration_app.api.schema.TrackerAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Migreringssporing API",
    "DESCRIPTION": (
        "The Altinn II → Altinn 3 migration tracker for project leads' scripts and dashboards: the catalog, "
        "engine results and history. Authenticate with `Authorization: Token <key>`. Writes to services, "
        "dependencies and capabilities need `If-Match` with the ETag you read (or `version` in the body). "
        "Guide with curl examples: docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Request and response bodies as separate components: read-only fields stay out of request bodies.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc from the drf-spectacular-sidecar package, served as static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "MigrationStatusEnum": "migration_app.choices.MigrationStatus",
        "CapabilityStatusEnum": "migration_app.choices.CapabilityStatus",
        "ReadinessStateEnum": "migration_app.models.ReadinessState",
        "SnapshotScopeEnum": "migration_app.models.ProgressSnapshot.Scope",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
