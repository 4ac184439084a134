"""Settings for the Altinn migration tracker.

One file for every deployment. Each deployment-specific value comes from the environment through the
small typed helpers below, which fail loudly on a bad value instead of guessing. With no environment
at all the tracker runs embedded: SQLite in ``var/``, Celery tasks executed in-process, e-mail to files.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

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
    # Security: sign-in lockout (django-axes, with its admin) and the Content-Security-Policy header.
    "axes",
    "csp",
    "migration_app",
]

MIDDLEWARE = [
    # Operations (the "Operations" block below): first, so the request id is set before anything logs and
    # the latency covers the whole stack, redirects and static files included.
    "tracker.middleware.RequestObservationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Uploads (the "Uploads" block below): before the CSRF check, which reads and parses the whole body.
    "migration_app.uploads.RequestSizeLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Security (the "Security" blocks below): the CSP header, and no shared caching of signed-in
    # responses (after AuthenticationMiddleware, so it sees request.user on the way out).
    "csp.middleware.CSPMiddleware",
    "tracker.security.PrivateResponsesMiddleware",
    # Last, as django-axes requires: it turns a sign-in found locked during the view into the lockout page.
    "axes.middleware.AxesMiddleware",
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
        # Health checks: a kept-open connection is tested before a request reuses it, so after a PostgreSQL
        # restart each process reconnects instead of failing its first request on a dead connection.
        DATABASES = {
            "default": dj_database_url.parse(
                DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
            )
        }
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A server that does not answer fails the connection in seconds instead of hanging the request (and
        # /readyz, which a load balancer times out). A ?connect_timeout= in DATABASE_URL wins.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",  # type: ignore[typeddict-item]  # Django takes a Path; DBConfig says str
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

# --- Security: sign-in backends -----------------------------------------------------------------
# The one list of ways to sign in. django-axes' backend must stay first: it refuses a locked account or
# address before any backend checks a password. Single sign-on (OpenID Connect) adds its backend after
# ModelBackend when configured; append to this list rather than redefining it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Security: lockout against password guessing (django-axes) ----------------------------------
# LOGIN_FAILURE_LIMIT failures lock sign-in for LOGIN_COOLOFF_MINUTES, per account and per address;
# unknown usernames count the same, so the lockout does not reveal which accounts exist.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts are rows in PostgreSQL, so every gunicorn process on every host counts the same failures.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# A successful sign-in clears the failures of that account and of that address: colleagues behind one
# office NAT address who mistype now and then do not lock each other out. The per-account count still
# bounds guesses against any one account, whoever resets their own address.
AXES_RESET_ON_SUCCESS = True
# The wait runs from the locking failure: attempts during the lock are refused unchecked and do not
# extend it, so "try again in 15 minutes" on the lockout page is true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The client address as the API throttles see it (NUM_PROXIES, in REST_FRAMEWORK below).
AXES_CLIENT_IP_CALLABLE = "tracker.security.client_address"
AXES_LOCKOUT_CALLABLE = "tracker.security.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# Attempt rows keep the submitted form; the password is masked by axes, the CSRF token too by this.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]

# --- Security: HTTPS, cookies and response headers (`check --deploy` reports nothing) ------------
# HTTPS is on whenever DEBUG is off: the tracker is only served to the internet over TLS. HTTPS=0 is for
# running the production configuration on plain-http loopback (`make stack`): cookies then lose their
# Secure flag and no HSTS is sent, so `check --deploy` rightly warns in that mode.
HTTPS = env_bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_SECURE = HTTPS
# Behind a load balancer that terminates TLS, Django sees plain http and would redirect forever. Trust the
# proxy's X-Forwarded-Proto only when told one is there: without a proxy that overwrites the header, any
# client could claim https. (gunicorn does the same by itself for proxies on loopback.)
if env_bool("TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS: once seen, browsers use only https for this host for a year (the minimum the preload list takes).
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 3600) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", default=True)
# The preload directive only consents to inclusion in browsers' built-in HTTPS list; nothing happens until
# the domain's owner submits the registrable domain, and on a host name such as tracker.agency.no it has
# no effect at all. Served on an agency's bare domain whose other hosts are not all https, set HSTS_PRELOAD=0
# (and HSTS_INCLUDE_SUBDOMAINS=0), accepting the one `check --deploy` warning that brings.
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", default=True)
# Signed in for a working day at most, and only until the browser closes: agencies' shared and borrowed
# computers should not stay signed in overnight. HttpOnly keeps the session id away from scripts; Lax keeps
# it off cross-site POSTs (CSRF's second line) while links from e-mail still arrive signed in.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# No page may be framed (clickjacking); the report preview's e-mail frame is the one same-origin exception.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Links to other sites do not learn which service or organisation page the user came from.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# --- Security: Content-Security-Policy (django-csp) ---------------------------------------------
# Everything comes from this origin: our pages have no inline script or style (htmx is told not to add
# any, see base.html) and no eval, so injected markup cannot run. Views with other needs override their
# own response only: the report preview's e-mail frame (reports/preview/html/) and the API docs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        # The report preview frames its e-mail from this origin.
        "frame-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

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
# One queue per kind of work, each consumed by workers of its own (docs/deployment.md, "Queues and
# workers"): a recompute or a snapshot takes minutes of CPU, an e-mail seconds, and a delivery must never
# wait behind a recompute. CELERY_QUEUE prefixes both names, so deployments (or test runs) share one Redis.
TASK_QUEUE_PREFIX = env_str("CELERY_QUEUE", "tracker")
if not re.fullmatch(r"[A-Za-z0-9_.-]+", TASK_QUEUE_PREFIX):
    raise ImproperlyConfigured(f"CELERY_QUEUE={TASK_QUEUE_PREFIX!r}; use letters, digits, '.', '_' or '-'.")
TASK_QUEUES = {kind: f"{TASK_QUEUE_PREFIX}.{kind}" for kind in ("recompute", "email")}
# Declared, so a worker started without --queues (`make worker`, a one-host deployment) consumes both.
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in TASK_QUEUES.values()]
# Routed by name, so beat and services.task_queue (which send by name) route as apply_async does. A task
# not listed here (a new one) goes to the recompute queue: its workers can afford to wait, e-mail cannot.
CELERY_TASK_DEFAULT_QUEUE = TASK_QUEUES["recompute"]
TASKS_BY_QUEUE_KIND = {
    "recompute": ("recompute_portfolio", "recompute_portfolio_if_stale", "progress_snapshot_take"),
    # The fan-out only builds the week's digests and queues deliveries: it must not wait for a recompute.
    "email": ("weekly_reports_fan_out", "weekly_report_deliver"),
}
CELERY_TASK_ROUTES = {
    f"migration_app.{task}": {"queue": TASK_QUEUES[kind]}
    for kind, tasks in TASKS_BY_QUEUE_KIND.items()
    for task in tasks
}
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 900
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Broker outages (faults scenario, tests/stack/test_outages.py): the worker and beat retry the connection
# forever, at start-up too, so they carry on by themselves once Redis is back (Celery's default gives
# up after 100 attempts and the process must then be restarted by hand).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# How often beat looks for stale results that no queued recompute will refresh (a change made while the
# broker was down could not queue one): the longest results stay stale once the broker is back.
RECOMPUTE_CATCH_UP_SECONDS = env_int("RECOMPUTE_CATCH_UP_SECONDS", 60)
if RECOMPUTE_CATCH_UP_SECONDS < 1:
    raise ImproperlyConfigured(f"RECOMPUTE_CATCH_UP_SECONDS={RECOMPUTE_CATCH_UP_SECONDS} must be at least 1.")
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Safety net: recompute readiness, leverage, waves and forecast even if an on-commit trigger was
    # lost (for instance while the broker was down).
    "recompute-portfolio-hourly": {
        "task": "migration_app.recompute_portfolio",
        "schedule": crontab(minute=7),
        "options": {"expires": 50 * 60},
    },
    # Catch-up after a broker outage, every minute: recompute when the results are stale and no queued
    # task will refresh them (services.portfolio_recompute_if_unserved). Fresh results: one query.
    "recompute-portfolio-if-stale": {
        "task": "migration_app.recompute_portfolio_if_stale",
        "schedule": RECOMPUTE_CATCH_UP_SECONDS,
        "options": {"expires": RECOMPUTE_CATCH_UP_SECONDS * 0.9},
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

# --- Cache: one Redis cache for every web process when REDIS_URL is set (tracker/cache.py) --------------
# Shared, so the API throttles count across gunicorn processes; fails open while Redis is down, and the
# key prefix is the database's name (docs/deployment.md, "Cache").
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "tracker.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"cache:{DATABASES['default']['NAME']}",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5, "retry_after": 5},
        }
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
    # Reverse proxies that append to X-Forwarded-For; 0 trusts REMOTE_ADDR only (no made-up addresses).
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
        "ReadinessStateEnum": "migration_app.choices.ReadinessState",
        "SnapshotScopeEnum": "migration_app.models.ProgressSnapshot.Scope",
    },
}

# --- Uploads: how large a request may be (migration_app/uploads.py) ----------------------------------
# RequestSizeLimitMiddleware answers 413 before anything reads the body (Django bounds only form fields).


def env_bytes(name: str, default: int) -> int:
    """A size limit in bytes; zero or less would refuse every request (or, to Django, mean no limit)."""
    value = env_int(name, default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name}={value} must be a positive number of bytes.")
    return value


# The bulk import (CSV, JSON or XLSX): the 1,000 services of Altinn II are about 1 MB of JSON.
IMPORT_MAX_BYTES = env_bytes("IMPORT_MAX_BYTES", 20 * 1024 * 1024)
# Every other request: the largest form or API write (a service with long notes) is a few kilobytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_bytes("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)
# An uploaded file above this is spooled to a temporary file as it arrives instead of held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# The largest form (the admin's user form, every permission ticked) sends ~150 values; the edit form ~40.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 500
# Only the import takes a file, and only one.
DATA_UPLOAD_MAX_NUMBER_FILES = 1

# --- Operations: health probes, structured logs, metrics (README "Operations: health, logs, metrics") ---
# One line per record on stderr: JSON for log shippers in production, plain text on a developer's terminal.
# Every line carries the request id (tracker.logs); Celery workers keep this configuration too.
LOG_FORMAT = env_str("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}; use json or plain.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "tracker.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "tracker.logs.JsonFormatter"},
        "plain": {"()": "tracker.logs.PlainFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own loggers through the same handler (instead of its DEBUG-only console) ...
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # ... except its 4xx warnings ("Not Found: /x"), which repeat the access line; 5xx errors stay.
        "django.request": {"handlers": [], "level": "ERROR", "propagate": True},
    },
}
# Load balancers probe over plain http inside the network: the probes, and Prometheus scraping each host
# directly, are never redirected to https (SECURE_SSL_REDIRECT, the Security block above).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# /metrics is off (404) until a token is set; Prometheus then sends it as "Authorization: Bearer <token>".
METRICS_TOKEN = env_str("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "METRICS_TOKEN is shorter than 32 characters; make one with "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )

# --- Single sign-on with OpenID Connect (docs/sso.md) ----------------------------------------------
# Off by default (nothing installed). With OIDC_ENABLED=1 every value must be set, or start-up names the
# missing one; endpoints are explicit, not discovered (`manage.py oidc_discover <issuer>` prints them).
OIDC_ENABLED = env_bool("OIDC_ENABLED")
if OIDC_ENABLED:
    from urllib.parse import urlsplit

    OIDC_SIGN_ALGORITHMS = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}
    OIDC_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

    def env_required(name: str) -> str:
        value = env_str(name).strip()
        if not value:
            raise ImproperlyConfigured(f"OIDC_ENABLED=1 needs {name}; see docs/sso.md.")
        return value

    def env_endpoint(name: str, *, required: bool = True) -> str:
        """A provider URL: https, since the client secret and tokens travel on it (http only on loopback)."""
        url = env_required(name) if required else env_str(name).strip()
        parts = urlsplit(url)
        if url and not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in OIDC_LOOPBACK_HOSTS)):
            raise ImproperlyConfigured(f"{name}={url!r} must be an https URL.")
        return url

    OIDC_PROVIDER_NAME = env_required("OIDC_PROVIDER_NAME")  # the button's "Log in with ...", e.g. ID-porten
    OIDC_RP_CLIENT_ID = env_required("OIDC_RP_CLIENT_ID")
    OIDC_RP_CLIENT_SECRET = env_required("OIDC_RP_CLIENT_SECRET")
    # Sent as HTTP Basic (client_secret_basic) instead of in the form body (client_secret_post).
    OIDC_TOKEN_USE_BASIC_AUTH = env_bool("OIDC_TOKEN_USE_BASIC_AUTH")
    OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
    if OIDC_RP_SIGN_ALGO not in OIDC_SIGN_ALGORITHMS:
        # Asymmetric only: with HS256 anyone holding the client secret could mint ID tokens.
        raise ImproperlyConfigured(f"OIDC_RP_SIGN_ALGO={OIDC_RP_SIGN_ALGO!r}; use one of RS256, RS384, ES256, ...")
    OIDC_OP_ISSUER = env_required("OIDC_OP_ISSUER")
    OIDC_OP_AUTHORIZATION_ENDPOINT = env_endpoint("OIDC_OP_AUTHORIZATION_ENDPOINT")
    OIDC_OP_TOKEN_ENDPOINT = env_endpoint("OIDC_OP_TOKEN_ENDPOINT")
    OIDC_OP_JWKS_ENDPOINT = env_endpoint("OIDC_OP_JWKS_ENDPOINT")
    # Optional: without it every claim comes from the ID token (Entra ID puts them there).
    OIDC_OP_USER_ENDPOINT = env_endpoint("OIDC_OP_USER_ENDPOINT", required=False)
    # Optional: the provider's end_session_endpoint, offered after signing out of the tracker.
    OIDC_OP_LOGOUT_ENDPOINT = env_endpoint("OIDC_OP_LOGOUT_ENDPOINT", required=False)
    OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid profile email")
    if "openid" not in OIDC_RP_SCOPES.split():
        raise ImproperlyConfigured(f"OIDC_RP_SCOPES={OIDC_RP_SCOPES!r} must include openid.")
    # Levels of assurance to ask for and accept (comma-separated), e.g. idporten-loa-high; empty: any.
    OIDC_ACR_VALUES = env_list("OIDC_ACR_VALUES")
    # The mapping from identity to membership (migration_app/sso/claims.py).
    OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "sub")
    # Keys the hash that account names are made of. Keep it with SECRET_KEY's backups but never rotate it:
    # a new key gives every single-sign-on user a new, empty account.
    OIDC_USERNAME_HASH_KEY = env_required("OIDC_USERNAME_HASH_KEY")
    if len(OIDC_USERNAME_HASH_KEY) < 32:
        raise ImproperlyConfigured("OIDC_USERNAME_HASH_KEY must be at least 32 random characters.")
    OIDC_ORG_CLAIM = env_str("OIDC_ORG_CLAIM")
    OIDC_ROLE_CLAIM = env_str("OIDC_ROLE_CLAIM", "groups")
    OIDC_EDITOR_GROUPS = env_list("OIDC_EDITOR_GROUPS")
    OIDC_LEAD_GROUPS = env_list("OIDC_LEAD_GROUPS")
    # Refuse people with no membership and no lead status: ID-porten signs in every resident of Norway,
    # and any signed-in user may read the whole catalog.
    OIDC_REQUIRE_MEMBERSHIP = env_bool("OIDC_REQUIRE_MEMBERSHIP", default=True)
    # mozilla-django-oidc: PKCE (required by ID-porten, ignored by providers without it), a bounded wait
    # on the provider so a slow one cannot tie up web workers, and our callback's URL name.
    OIDC_USE_PKCE = True
    OIDC_TIMEOUT = 10
    OIDC_AUTHENTICATION_CALLBACK_URL = "sso:callback"
    AUTHENTICATION_BACKENDS = [*AUTHENTICATION_BACKENDS, "migration_app.sso.backend.SsoBackend"]
