"""Django settings for Keel, all read from the environment through ``keel.config``.

See README.md ("Configuration") for every variable.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from keel import config as keel_config

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIG = keel_config.load(os.environ, BASE_DIR)
VAR_DIR = CONFIG.var_dir

SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
KEEL_PRODUCTION = CONFIG.production
ALLOWED_HOSTS = CONFIG.allowed_hosts
CSRF_TRUSTED_ORIGINS = CONFIG.csrf_trusted_origins
KEEL_PORT = CONFIG.port

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "axes",
    "csp",
    "ninja",
    "keel.core",
    "keel.catalog",
    "keel.cmdb",
    "keel.incidents",
    "keel.imports",
    "keel.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "keel.core.middleware.RequestIdMiddleware",
    # API calls with a bearer token go on without sessions, CSRF, messages and axes.
    "keel.core.middleware.TokenApiMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "keel.core.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "keel.urls"
WSGI_APPLICATION = "keel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "keel.web.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": CONFIG.database}
# PostgreSQL plans the hottest statements once per connection (``keel/db/prepared.py``); off for
# connection poolers that cannot keep prepared statements (PgBouncer before 1.21).
KEEL_PG_PREPARE = keel_config.parse_bool(os.environ, "KEEL_PG_PREPARE", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "keel.core.backends.RoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Log-in throttling: five failures for one user name from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Sessions end after a working day of inactivity, and when the browser closes.
SESSION_COOKIE_AGE = CONFIG.session_hours * 3600
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = CONFIG.production
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = CONFIG.production
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if CONFIG.production:
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_SSL_REDIRECT = CONFIG.ssl_redirect
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]
if CONFIG.proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy: no inline script or style anywhere in Keel's pages.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "keel" / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = CONFIG.time_zone

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = CONFIG.media_root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploads above this size go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

for _key, _value in CONFIG.email.items():
    globals()[_key] = _value
DEFAULT_FROM_EMAIL = SERVER_EMAIL = CONFIG.default_from_email

# Rendered page fragments (the queue's rows) stay in each process: fetching 50 of them from
# Redis would cost more than rendering them.
FRAGMENTS_CACHE = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "keel-fragments",
    "OPTIONS": {"MAX_ENTRIES": 5000},
}
if CONFIG.redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CONFIG.redis_url,
        },
        "fragments": FRAGMENTS_CACHE,
    }
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "keel",
        "url": CONFIG.redis_url,
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "fragments": FRAGMENTS_CACHE,
    }
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "keel",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        # No disk flush per queued task: a process crash loses nothing (WAL); only a power cut
        # could lose the last notices queued, and they are e-mails, not records.
        "fsync": False,
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

NINJA_PAGINATION_PER_PAGE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The worker gives Huey its own handler; do not print each line twice.
        "huey": {"level": "INFO", "propagate": False},
    },
}

# Incident management: where e-mailed links point, attachment limits, and the SLA clock's rules.
KEEL_BASE_URL = (os.environ.get("KEEL_BASE_URL") or f"http://127.0.0.1:{CONFIG.port}").rstrip("/")
KEEL_ATTACHMENT_MAX_BYTES = (
    keel_config.parse_int(os.environ, "KEEL_ATTACHMENT_MAX_MB", 10, low=1, high=1024) * 1024 * 1024
)
KEEL_INCIDENT_REOPEN_DAYS = keel_config.parse_int(
    os.environ, "KEEL_INCIDENT_REOPEN_DAYS", 10, low=0, high=365
)
KEEL_INCIDENT_AUTO_CLOSE_DAYS = keel_config.parse_int(
    os.environ, "KEEL_INCIDENT_AUTO_CLOSE_DAYS", 5, low=1, high=60
)
KEEL_UNASSIGNED_ESCALATION_MINUTES = keel_config.parse_int(
    os.environ, "KEEL_UNASSIGNED_ESCALATION_MINUTES", 30, low=1, high=7 * 24 * 60
)
KEEL_P1_IS_MAJOR = True
