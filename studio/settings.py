"""Django settings. Values come from studio/env.py, which declares every environment variable."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from studio import env
from studio.secret_key import secret_key_load_or_create

BASE_DIR = env.BASE_DIR
DEBUG = env.DEBUG

if env.SECRET_KEY:
    SECRET_KEY = env.SECRET_KEY
elif env.SECRET_KEY_FILE or DEBUG:
    # Never a constant: a published key would let anyone forge sessions and widget feedback tokens.
    SECRET_KEY = secret_key_load_or_create(Path(env.SECRET_KEY_FILE or env.VAR_DIR / "secret_key"))
else:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set SECRET_KEY to a long random string (for example the output "
        "of `python -c 'import secrets; print(secrets.token_urlsafe(50))'`), or set "
        "STUDIO_SECRET_KEY_FILE to a file the studio may create. `python -m studio` does this for you."
    )
SECRET_KEY_FALLBACKS = env.SECRET_KEY_FALLBACKS

ALLOWED_HOSTS = env.ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = env.CSRF_TRUSTED_ORIGINS

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served locally: the docs page needs no CDN
    "studio",
    "products",
    "inference",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "studio.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "studio.urls"
ASGI_APPLICATION = "studio.asgi.application"

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
                "studio.context_processors.teams",
            ],
        },
    },
]

env.VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(env.DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    if env.DATABASE_URL
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": env.VAR_DIR / "studio.sqlite3"}
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Worker threads write while the web tier reads: WAL and a busy timeout avoid "database locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if env.REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "studio.channel_layer.RedisChannelLayer",  # channels-redis, sending in one round trip
            # channels-redis blocks 5 s per receive; redis-py 8 also times reads out at 5 s by default.
            "CONFIG": {"hosts": [{"address": env.REDIS_URL, "socket_timeout": 30}], "capacity": 1500, "expiry": 30},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env.REDIS_URL}
    if env.REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

AUTHENTICATION_BACKENDS = ["studio.auth_backends.ThrottledModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {
        # The username is the email, so its messages name the email ("too similar to the email address").
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ["email", "first_name", "last_name"]},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 3 * 3600  # seconds a reset link works

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.MANIFEST_STATIC
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Serve straight from app static folders, so the one-command run needs no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Product kinds (products/kinds/): each module registers its kinds; order is the gallery's order.
PRODUCT_KIND_MODULES = [
    "products.kinds.copywriting",
    "products.kinds.qa",
    "products.kinds.classification",
    "products.kinds.recommendation",
]
# The inference worker's runners, one per task (inference/runners/).
INFERENCE_RUNNER_MODULES = [
    "inference.runners.generate", "inference.runners.answer", "inference.runners.classify", "inference.runners.rank",
]
# The classify runner scores requests that arrive within this many seconds in one forward pass, and keeps
# this many trained classifiers loaded, in this precision (studio/env.py).
CLASSIFY_BATCH_WINDOW_S = 0.004
CLASSIFY_CACHE_SIZE = 4
CLASSIFY_PRECISION = env.CLASSIFY_PRECISION

MEDIA_ROOT = env.MEDIA_ROOT
MEDIA_URL = "media/"
MODELS_DIR = env.MODELS_DIR
INFERENCE_DEVICE = env.DEVICE
EMBEDDED_WORKERS = env.EMBEDDED_WORKERS
#: ASGI middleware that starts the in-process workers when EMBEDDED_WORKERS is on (studio/asgi.py loads it).
EMBEDDED_WORKERS_MIDDLEWARE = "inference.embedded.EmbeddedWorkers"
INFERENCE_MAX_BATCH = env.INFERENCE_MAX_BATCH
INFERENCE_START_TIMEOUT_S = env.INFERENCE_START_TIMEOUT_S
INFERENCE_IDLE_TIMEOUT_S = env.INFERENCE_IDLE_TIMEOUT_S
INFERENCE_ENGINE = env.ENGINE
INFERENCE_ENGINE_THREADS = env.ENGINE_THREADS
INFERENCE_SLOT_CONTEXT = env.ENGINE_SLOT_CONTEXT
INFERENCE_KV_TYPE = env.ENGINE_KV_TYPE
INFERENCE_QUEUE_WAIT_SECONDS = env.QUEUE_WAIT_SECONDS
REMOTE_ENGINES = env.REMOTE_ENGINES
REMOTE_CONNECT_TIMEOUT_S = env.REMOTE_CONNECT_TIMEOUT_S
REMOTE_READ_TIMEOUT_S = env.REMOTE_READ_TIMEOUT_S
TRAINING_LEASE_SECONDS = env.TRAINING_LEASE_SECONDS
TRAINING_MAX_ATTEMPTS = env.TRAINING_MAX_ATTEMPTS
TRAINING_POLL_SECONDS = env.TRAINING_POLL_SECONDS
INDEX_LEASE_SECONDS = env.INDEX_LEASE_SECONDS
LABEL_LEASE_SECONDS = env.LABEL_LEASE_SECONDS
COMPARISON_ITEM_TIMEOUT_S = env.COMPARISON_ITEM_TIMEOUT_S
KNOWLEDGE_CACHE_MB = env.KNOWLEDGE_CACHE_MB
PLAYGROUND_GENERATIONS_PER_MINUTE = env.PLAYGROUND_GENERATIONS_PER_MINUTE
TEAM_PLAYGROUND_GENERATIONS_PER_MINUTE = env.TEAM_PLAYGROUND_GENERATIONS_PER_MINUTE
WIDGET_MESSAGES_PER_VISITOR_HOUR = env.WIDGET_MESSAGES_PER_VISITOR_HOUR
WIDGET_MESSAGES_PER_PRODUCT_DAY = env.WIDGET_MESSAGES_PER_PRODUCT_DAY
API_GENERATIONS_PER_MINUTE = env.API_GENERATIONS_PER_MINUTE
TEAM_API_GENERATIONS_PER_MINUTE = env.TEAM_API_GENERATIONS_PER_MINUTE
TRUSTED_PROXIES = env.TRUSTED_PROXIES
MAX_UPLOAD_BYTES = env.MAX_UPLOAD_MB * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

EMAIL_BACKEND = env.EMAIL_BACKEND
DEFAULT_FROM_EMAIL = env.DEFAULT_FROM_EMAIL

# Security: on by default whenever DEBUG is off (`manage.py check --deploy` is tested clean).
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env.HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's JSONParser lets 100k nested brackets raise RecursionError (a 500); ours answers 400.
    "DEFAULT_PARSER_CLASSES": [
        "studio.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AI Product Studio API",
    "DESCRIPTION": "Products, versions, datasets, training runs and generation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/(api/v1|v1)",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"FeedbackEnum": [(1, 1), (0, 0), (-1, -1)]},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        name: {"handlers": ["console"], "level": env.LOG_LEVEL, "propagate": False}
        for name in ("studio", "products", "inference")
    },
}
