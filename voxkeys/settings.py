"""VoxKeys settings: every value comes from an environment variable with a safe default.

See README.md for the table of variables.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        sys.exit(f"VoxKeys: the environment variable {name} must be a whole number, not {value!r}.")


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # One readable line instead of a traceback: this is an operator's mistake, not a bug.
        sys.exit(
            "VoxKeys: set the SECRET_KEY environment variable (it is required when DEBUG is off)."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tasks",
    "django_tasks_db",
    # After django_tasks_db: its admin replaces that app's (adding "Run again").
    "jobs",
    # Swagger UI's files (static only: no Django REST framework), for the API reference page.
    "drf_spectacular_sidecar",
    "accounts",
    "activity",
    "api",
    "apikeys",
    "voice",
]

MIDDLEWARE = [
    # First: it gives the request the id every log line carries, and times all the others.
    "voxkeys.logs.RequestLogMiddleware",
    # Before the host, session, CSRF and sign-in checks: a scraper has its token, nothing else.
    "voxkeys.metrics.endpoint.MetricsMiddleware",
    # Before anything asks for the Host: load balancers probe by IP address (voxkeys/proxy.py).
    "voxkeys.proxy.ProbeHostMiddleware",
    # Only while TRUSTED_PROXY_COUNT is 0: warns when a proxy it does not know about is in front.
    "voxkeys.proxy.ForwardedForWatchMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "voxkeys.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside everything that queries the database (sessions, auth, accounts): it turns their
    # outage errors into a 503 page and repeats a GET that met a dead connection.
    "voxkeys.middleware.DatabaseOutageMiddleware",
    # Before sessions, CSRF and auth: it strips cookies from /api/ requests so none of them can
    # authenticate or create a session there; elsewhere it costs one startswith().
    "api.middleware.ApiKeyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Outside the middleware below that may answer in a view's place, so it sees every answer.
    "accounts.middleware.SignedInSessionMiddleware",
    # Before the idle timeout, which tells a signed-out member why.
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    # A half-signed-in session reaches only the second factor's page (accounts.twofactor).
    "accounts.twofactor.middleware.TwoFactorMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "accounts.middleware.CurrentAccountMiddleware",
    # Right after the current account is known: a member its policy holds reaches nothing else.
    "accounts.twofactor.policy.TwoFactorPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "voxkeys.urls"
WSGI_APPLICATION = "voxkeys.wsgi.application"

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
                "accounts.context_processors.current_account",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections: a new connection per request would cost more than the query.
        conn_max_age=env_int("CONN_MAX_AGE", 600),
        # Off by default: a health check is a second round trip on every request that touches
        # the database, and the API's budget is one. A connection that died (database restart)
        # fails one request instead (a JSON 503 on the API) and is then replaced.
        conn_health_checks=env_bool("CONN_HEALTH_CHECKS"),
    )
}
# How long to wait for the database before answering 503 (README "Configuration").
DATABASE_CONNECT_TIMEOUT = env_int("DATABASE_CONNECT_TIMEOUT", 3)
DATABASE_STATEMENT_TIMEOUT = env_int("DATABASE_STATEMENT_TIMEOUT", 5)
DATABASE_QUERY_TIMEOUT = env_int("DATABASE_QUERY_TIMEOUT", DATABASE_STATEMENT_TIMEOUT + 1)
API_AUTH_STATEMENT_TIMEOUT = env_int("API_AUTH_STATEMENT_TIMEOUT", 2)
if (
    min(
        DATABASE_CONNECT_TIMEOUT,
        DATABASE_STATEMENT_TIMEOUT,
        DATABASE_QUERY_TIMEOUT,
        API_AUTH_STATEMENT_TIMEOUT,
    )
    < 1
):
    sys.exit(
        "VoxKeys: DATABASE_CONNECT_TIMEOUT, DATABASE_STATEMENT_TIMEOUT, DATABASE_QUERY_TIMEOUT "
        "and API_AUTH_STATEMENT_TIMEOUT must be at least 1 (seconds)."
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend plus a client-side deadline (voxkeys/db/backends/postgresql/base.py):
    # a paused or unreachable server enforces none of the server-side limits below.
    DATABASES["default"]["ENGINE"] = "voxkeys.db.backends.postgresql"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": DATABASE_CONNECT_TIMEOUT,
            # The server cancels a runaway query itself, and answers: the connection lives on.
            "options": f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT * 1000}",
            # Only for a server that cannot answer: so above the statement timeout.
            "query_timeout": DATABASE_QUERY_TIMEOUT,
            # A peer that vanished (host down, connection dropped by a firewall) is noticed on
            # an idle connection within 30 + 3 * 10 s instead of the kernel's two hours.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
    )
if DATABASES["default"]["ENGINE"] == "voxkeys.db.backends.postgresql" and env_bool(
    "DATABASE_PREPARED_STATEMENTS", True
):
    # Lets the API's key lookup (apikeys/auth/lookup.py) run as a prepared statement, planned
    # once per connection. Django's own queries bind client-side and are never prepared, so
    # nothing else changes. Behind PgBouncer in transaction mode, this needs PgBouncer 1.21+
    # with max_prepared_statements set; otherwise set DATABASE_PREPARED_STATEMENTS=0.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so the key-limit check and the
    # insert cannot interleave between two requests (PostgreSQL uses SELECT ... FOR UPDATE).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: it counts each sign-in attempt, and refuses one over the limits, before any
    # backend hashes a password.
    "accounts.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password reset and email-change links work once, for this many seconds (Django's default: 3 days).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600)
# Reset requests an hour, per email (known or not) and per client address (accounts/throttle.py).
PASSWORD_RESET_EMAIL_LIMIT = env_int("PASSWORD_RESET_EMAIL_LIMIT", 3)
PASSWORD_RESET_IP_LIMIT = env_int("PASSWORD_RESET_IP_LIMIT", 20)
if min(PASSWORD_RESET_TIMEOUT, PASSWORD_RESET_EMAIL_LIMIT, PASSWORD_RESET_IP_LIMIT) < 1:
    sys.exit(
        "VoxKeys: PASSWORD_RESET_TIMEOUT, PASSWORD_RESET_EMAIL_LIMIT and PASSWORD_RESET_IP_LIMIT "
        "must be at least 1."
    )
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Signing in and staying signed in (accounts/lockout.py, accounts/idle.py, accounts/sudo.py).
# After LOGIN_FAILURE_LIMIT wrong passwords for one email from one IP address, or
# LOGIN_IP_FAILURE_LIMIT for any emails from one address, with no pause of
# LOGIN_LOCKOUT_MINUTES between them, signing in is refused for LOGIN_LOCKOUT_MINUTES.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_IP_FAILURE_LIMIT = env_int("LOGIN_IP_FAILURE_LIMIT", 50)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
# A session unused this many seconds is signed out; SESSION_COOKIE_AGE (Django's two weeks)
# stays the limit from signing in, however active the session.
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 7200)
# Creating, rolling and editing API keys need the password typed in the last this many minutes.
SUDO_MODE_MINUTES = env_int("SUDO_MODE_MINUTES", 15)
if (
    min(
        LOGIN_FAILURE_LIMIT,
        LOGIN_IP_FAILURE_LIMIT,
        LOGIN_LOCKOUT_MINUTES,
        SESSION_IDLE_TIMEOUT,
        SUDO_MODE_MINUTES,
    )
    < 1
):
    sys.exit(
        "VoxKeys: LOGIN_FAILURE_LIMIT, LOGIN_IP_FAILURE_LIMIT, LOGIN_LOCKOUT_MINUTES, "
        "SESSION_IDLE_TIMEOUT and SUDO_MODE_MINUTES must be at least 1."
    )
# Two-factor sign-in (accounts/twofactor/). After a correct password, a user with a second factor
# has TWO_FACTOR_PENDING_SECONDS to give it; an account that requires two-factor lets its keys be
# created, rolled and edited only in a session whose second factor is under
# TWO_FACTOR_RECENT_HOURS old.
TWO_FACTOR_PENDING_SECONDS = env_int("TWO_FACTOR_PENDING_SECONDS", 300)
TWO_FACTOR_RECENT_HOURS = env_int("TWO_FACTOR_RECENT_HOURS", 12)
# The Django admin asks every superuser for a second factor (enrolling first if they have none).
ADMIN_REQUIRE_2FA = env_bool("ADMIN_REQUIRE_2FA", not DEBUG)
# Passkeys: the relying party's ID (a registrable domain, e.g. "voxpria.com") and the origins a
# browser may use ("https://app.voxpria.com"). Empty: the host and origin of the request itself.
WEBAUTHN_RP_ID = os.environ.get("WEBAUTHN_RP_ID", "").strip()
WEBAUTHN_ORIGINS = env_list("WEBAUTHN_ORIGINS", "")
WEBAUTHN_RP_NAME = os.environ.get("WEBAUTHN_RP_NAME", "VoxPria").strip() or "VoxPria"
# django-otp's own throttle is off: accounts.twofactor.throttle counts second-factor attempts
# (LOGIN_FAILURE_LIMIT wrong codes per user and address lock the step LOGIN_LOCKOUT_MINUTES).
OTP_TOTP_THROTTLE_FACTOR = 0
# A code from one step either side of now is accepted, and no further: no drift is learnt.
OTP_TOTP_SYNC = False
OTP_TOTP_ISSUER = WEBAUTHN_RP_NAME
if min(TWO_FACTOR_PENDING_SECONDS, TWO_FACTOR_RECENT_HOURS) < 1:
    sys.exit("VoxKeys: TWO_FACTOR_PENDING_SECONDS and TWO_FACTOR_RECENT_HOURS must be at least 1.")
# The task queue (django-tasks with its database backend, Django 6's Tasks API): a job is a row
# written in the transaction of the change that causes it, so a rolled-back change enqueues
# nothing; `manage.py run_worker` runs them (README: Workers).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "email", "webhooks"],
    }
}
# Webhook deliveries (voice/webhooks/, README "Webhooks"). The signing secrets are encrypted with
# WEBHOOK_ENCRYPTION_KEYS (comma-separated Fernet keys: the first encrypts, all decrypt); empty,
# a key derived from SECRET_KEY, which a deploy check warns about when DEBUG is off.
WEBHOOK_ENCRYPTION_KEYS = env_list("WEBHOOK_ENCRYPTION_KEYS")
# Loopback and private receivers, over plain http and on any port: for development and tests only.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", DEBUG)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = env_int("WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT", 4)
WEBHOOK_DISABLE_AFTER_DAYS = env_int("WEBHOOK_DISABLE_AFTER_DAYS", 3)
WEBHOOK_RETENTION_DAYS = env_int("WEBHOOK_RETENTION_DAYS", 30)
# How much of a receiver's answer each attempt keeps (characters) for the delivery log.
WEBHOOK_RESPONSE_EXCERPT = env_int("WEBHOOK_RESPONSE_EXCERPT", 4096)
if (
    min(
        WEBHOOK_TIMEOUT_SECONDS,
        WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT,
        WEBHOOK_DISABLE_AFTER_DAYS,
        WEBHOOK_RETENTION_DAYS,
        WEBHOOK_RESPONSE_EXCERPT,
    )
    < 1
):
    sys.exit(
        "VoxKeys: WEBHOOK_TIMEOUT_SECONDS, WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT, "
        "WEBHOOK_DISABLE_AFTER_DAYS, WEBHOOK_RETENTION_DAYS and WEBHOOK_RESPONSE_EXCERPT must be "
        "at least 1."
    )
# A job RUNNING for longer than this has lost its worker (killed, machine gone) and is run again
# (jobs/services.py): above the longest a job may take (an email: EMAIL_TIMEOUT per step).
JOB_STALL_SECONDS = env_int("JOB_STALL_SECONDS", 300)
if JOB_STALL_SECONDS < 1:
    sys.exit("VoxKeys: JOB_STALL_SECONDS must be at least 1.")
# An invitation's link works for this many days after it was sent (or resent).
INVITATION_TTL_DAYS = env_int("INVITATION_TTL_DAYS", 7)
if INVITATION_TTL_DAYS < 1:
    sys.exit("VoxKeys: INVITATION_TTL_DAYS must be at least 1.")
# Days before a key's expiry that its owners and admins are warned (send_key_expiry_notices).
try:
    KEY_EXPIRY_NOTICE_DAYS = sorted(
        {int(days) for days in env_list("KEY_EXPIRY_NOTICE_DAYS", "30,7,1")}, reverse=True
    )
except ValueError:
    sys.exit("VoxKeys: KEY_EXPIRY_NOTICE_DAYS must be whole numbers of days, such as 30,7,1.")
if not KEY_EXPIRY_NOTICE_DAYS or not all(1 <= days <= 365 for days in KEY_EXPIRY_NOTICE_DAYS):
    sys.exit("VoxKeys: KEY_EXPIRY_NOTICE_DAYS must list days from 1 to 365, such as 30,7,1.")
# The dashboard's address, for links in emails sent outside a request (`createaccount`); emails
# sent from a page link to the address that page was served from.
SITE_URL = os.environ.get("SITE_URL", "").strip().rstrip("/") or "http://127.0.0.1:8000"

# django-axes counts failures in the database (shared by every process and machine, and rolled
# back with each test); accounts.lockout.LoginLockoutHandler adds the IP-wide limit.
AXES_HANDLER = "accounts.lockout.LoginLockoutHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_VERBOSE = False  # no start-up banner in every command's output (cron mails)
# The window failures are counted in, and how long a lock lasts.
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
# Attempts refused during a lock are not counted, so a lock ends when its page says it will.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A member who got in is not one typo away from a lock for the rest of the window.
AXES_RESET_ON_SUCCESS = True
# Django's and the admin's login forms, and authenticate(), call the email "username".
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.lockout.login_username"
AXES_CLIENT_IP_CALLABLE = "voxkeys.clientip.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# axes would add a row per successful sign-in, kept forever; nothing here reads them.
AXES_DISABLE_ACCESS_LOG = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto and let it (or us) redirect to https.
if env_bool("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# The API answers plain http with 403 https_required instead (api/middleware.py).
SECURE_REDIRECT_EXEMPT = [r"^api/"]
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

APIKEY_LIMIT_DEFAULT = env_int("APIKEY_LIMIT_DEFAULT", 10)
# How many proxies in front of the app append to X-Forwarded-For (voxkeys/clientip.py). 0: the
# header is ignored, as anyone can send it.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
API_RATE_LIMIT_DEFAULT = env_int("API_RATE_LIMIT_DEFAULT", 25)
# Rate limits (apikeys/auth/ratelimit/, README "Rate limits"). Off only to measure what they cost.
API_RATE_LIMIT_ENABLED = env_bool("API_RATE_LIMIT_ENABLED", True)
# With Redis, the share of a key's per-second limit a process reserves at a time: more means
# fewer Redis round trips and more possible overshoot (one slice per process).
API_RATE_LIMIT_SLICE_PERCENT = env_int("API_RATE_LIMIT_SLICE_PERCENT", 10)
API_AUTH_FAILURES_PER_MINUTE = env_int("API_AUTH_FAILURES_PER_MINUTE", 60)
# Usage counters (apikeys/auth/usage.py, README "Usage"): kept per worker, written every this many
# seconds or requests, whichever comes first; a batch also flushes at this many distinct entries.
API_USAGE_FLUSH_SECONDS = env_int("API_USAGE_FLUSH_SECONDS", 10)
API_USAGE_FLUSH_REQUESTS = env_int("API_USAGE_FLUSH_REQUESTS", 1000)
API_USAGE_MAX_ENTRIES = env_int("API_USAGE_MAX_ENTRIES", 10_000)
API_USAGE_RETENTION_DAYS = env_int("API_USAGE_RETENTION_DAYS", 90)
# Authentication cache (apikeys/auth/cache.py, README "The authentication cache"): PostgreSQL
# only, kept exact by LISTEN/NOTIFY. Entries per worker process, and their longest life (s).
API_KEY_CACHE = env_bool("API_KEY_CACHE", True) and DATABASES["default"]["ENGINE"] == (
    "voxkeys.db.backends.postgresql"
)
API_KEY_CACHE_SIZE = env_int("API_KEY_CACHE_SIZE", 10_000)
API_KEY_CACHE_TTL = env_int("API_KEY_CACHE_TTL", 30)
# A direct connection for the listener's LISTEN, when DATABASE_URL goes through a pooler in
# transaction mode (where LISTEN does not work). Empty: DATABASE_URL's own connection settings.
API_KEY_CACHE_LISTEN_URL = os.environ.get("API_KEY_CACHE_LISTEN_URL", "").strip()
if API_KEY_CACHE_SIZE < 1 or API_KEY_CACHE_TTL < 1:
    sys.exit("VoxKeys: API_KEY_CACHE_SIZE and API_KEY_CACHE_TTL must be at least 1.")
if not 1 <= API_RATE_LIMIT_SLICE_PERCENT <= 100 or API_AUTH_FAILURES_PER_MINUTE < 1:
    sys.exit(
        "VoxKeys: API_RATE_LIMIT_SLICE_PERCENT must be 1 to 100 and "
        "API_AUTH_FAILURES_PER_MINUTE at least 1."
    )
# Where the secret scanner's public keys are (apikeys/secret_scanning.py): an https URL or a
# file path. Empty: leaked-key reports are answered 404 not_configured.
SECRET_SCANNING_PUBLIC_KEYS = os.environ.get("SECRET_SCANNING_PUBLIC_KEYS", "").strip()

# Email: printed to the console in development, sent by SMTP in production (tests use locmem).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend"
)
if os.environ.get("EMAIL_FILE_PATH"):
    # Only the file-based backend reads it (EMAIL_BACKEND=django.core.mail.backends.filebased...).
    EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
# Django waits forever by default; a worker stuck on one mail server would send nothing else.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL") or "VoxPria <no-reply@voxpria.com>"
# Where the pages send customers whose account is suspended or at its key limit (a mailto: link).
SUPPORT_EMAIL = os.environ.get("SUPPORT_EMAIL", "").strip() or "support@voxpria.com"

# Prometheus metrics (voxkeys/metrics/, README "Metrics"): /metrics answers only requests that
# send this as their Bearer token; empty, it is a 404 like any unknown path.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()

# Logs (voxkeys/logs.py, README "Logs"): `text` is the human format, `json` one object per line.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "").strip().lower() or "text"
if LOG_FORMAT not in {"text", "json"}:
    sys.exit(f"VoxKeys: LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
# An access line per request. On by default only with json: in text mode runserver writes its
# own, and gunicorn its access log when asked (--access-logfile; off in gunicorn.conf.py).
ACCESS_LOG = env_bool("ACCESS_LOG", LOG_FORMAT == "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "api_client_errors": {"()": "voxkeys.logs.ApiClientErrorFilter"},
        "without_traceback": {"()": "voxkeys.proxy.WithoutTraceback"},
    },
    "formatters": {"json": {"()": "voxkeys.logs.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            **({"formatter": "json"} if LOG_FORMAT == "json" else {}),
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # 4xx on /api/ are counted, not logged one by one (a credential-stuffing run is
        # thousands a minute); pages' 4xx and all 5xx keep Django's line.
        "django.request": {"filters": ["api_client_errors"]},
        # A Host not in ALLOWED_HOSTS: one line saying which, not a traceback per request.
        "django.security.DisallowedHost": {"filters": ["without_traceback"]},
        # ACCESS_LOG decides, whatever LOG_LEVEL says.
        "voxkeys.access": {"level": "INFO"},
    },
}
