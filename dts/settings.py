"""Settings for the DTS control plane, read from the environment.

Development mode (the default) embeds everything a laptop needs: SQLite for metadata,
a local Redis, and keys generated once under the state dir. Production mode
(DTS_MODE=production) refuses to start without its secrets and says which one is missing.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from dts.state import BASE_DIR, generated_value, state_dir

env = environ.Env()

DTS_MODE = env.str("DTS_MODE", default="development")
if DTS_MODE not in {"development", "production"}:
    raise ImproperlyConfigured(f"DTS_MODE must be 'development' or 'production', not {DTS_MODE!r}")
PRODUCTION = DTS_MODE == "production"


def _required_in_production(name: str, hint: str, generate: callable) -> str:  # type: ignore[valid-type]
    value = env.str(name, default="")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} is required when DTS_MODE=production: {hint}")
    return generated_value(name.lower(), generate)


SECRET_KEY = _required_in_production(
    "DJANGO_SECRET_KEY",
    "set it to a long random string, e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'",
    lambda: secrets.token_urlsafe(50),
)
# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation: put the new key first,
# run 'manage.py rotate_encryption_key', then drop the old one).
DTS_ENCRYPTION_KEYS = [
    key.strip()
    for key in _required_in_production(
        "DTS_ENCRYPTION_KEYS",
        "set it to one or more comma-separated Fernet keys, "
        "e.g. python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'",
        lambda: Fernet.generate_key().decode(),
    ).split(",")
    if key.strip()
]

DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[] if PRODUCTION else ["*"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS is required when DTS_MODE=production: "
                               "set it to the host names the console is served on, comma-separated")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
DTS_PUBLIC_URL = env.str("DTS_PUBLIC_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "channels",
    "dts.accounts",
    "dts.datasources",
    "dts.sync",
    "dts.monitor",
    "dts.compare",
    "dts.platform",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dts.urls"
WSGI_APPLICATION = "dts.wsgi.application"
ASGI_APPLICATION = "dts.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{state_dir() / 'metadata.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
    # A file, not memory, so worker processes started by the tests share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(state_dir() / "test-metadata.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DTS_STATIC_ROOT", default=str(state_dir() / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# The console's build (frontend/dist, by `npm run build`) is served at /static/console/assets/
# (Vite's base); its file names carry a content hash, so browsers may cache them for good.
STATICFILES_DIRS: list[str | tuple[str, str]] = []
if (BASE_DIR / "frontend" / "dist" / "assets").exists():
    STATICFILES_DIRS.append(("console/assets", str(BASE_DIR / "frontend" / "dist" / "assets")))
if (BASE_DIR / "frontend" / "static").exists():
    STATICFILES_DIRS.append(str(BASE_DIR / "frontend" / "static"))
WHITENOISE_IMMUTABLE_FILE_TEST = r"^.+[.-][0-9A-Za-z_-]{8,12}\.(js|css|woff2?|svg|png)$"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/admin/login/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION and env.bool("DTS_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Redis: Celery broker and results, channel layer, leases, metrics -----------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"

CELERY_TASK_ROUTES = {
    "dts.compare.jobs.*": {"queue": "compare"},
}  # sync jobs pick 'stream' or 'snapshot' when enqueued (dts.sync.jobs.enqueue)
# A stream runs for days: redelivery after the visibility timeout is made harmless by the task lease.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "purge-old-datasource-jobs": {"task": "dts.datasources.jobs.purge_old_jobs", "schedule": 3600.0},
    "supervise-sync-tasks": {"task": "dts.sync.jobs.supervise", "schedule": 15.0},
    # A late evaluation is useless once the next one is due: let it expire instead of piling up.
    "evaluate-delay-monitor": {"task": "dts.monitor.jobs.evaluate", "schedule": 5.0, "options": {"expires": 5.0}},
    "purge-old-alerts": {"task": "dts.monitor.jobs.purge_old_alerts", "schedule": 3600.0},
    # Starts the compare tasks whose cron schedule ("0 2 * * *") is due; runs go to the 'compare' queue.
    "start-scheduled-compares": {"task": "dts.compare.jobs.start_scheduled", "schedule": 60.0,
                                 "options": {"expires": 55.0}},
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

# --- API --------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dts.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DTS platform API",
    "DESCRIPTION": "Datasources, sync tasks, compare jobs and alerts of the data transfer service.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
}

# A runner holds its task's lease this long without renewing before the supervisor takes over.
DTS_LEASE_TTL_SECONDS = env.float("DTS_LEASE_TTL_SECONDS", default=30.0)
# Snapshot chunks fan out to workers on the 'snapshot' queue (off: threads inside the task's own job).
DTS_DISTRIBUTED_SNAPSHOT = env.bool("DTS_DISTRIBUTED_SNAPSHOT", default=True)
# MySQL server_id values for binlog streams are allocated above this (keep clear of real replicas).
DTS_SERVER_ID_BASE = env.int("DTS_SERVER_ID_BASE", default=1_000_000)

# How long a request may wait for a quick job (check, catalog) before answering 202.
DTS_QUICK_JOB_WAIT_SECONDS = env.float("DTS_QUICK_JOB_WAIT_SECONDS", default=20.0)
# Connection timeout for pre-flight checks and catalog discovery.
DTS_CONNECT_TIMEOUT_SECONDS = env.float("DTS_CONNECT_TIMEOUT_SECONDS", default=5.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DTS_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
