"""Settings for the test suite: the production settings module with test-only conveniences."""

import os
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret-" + "x" * 40)
os.environ.setdefault("STUDIO_HTTPS", "0")
os.environ.setdefault("STUDIO_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))
# Tests share the converted models with the one-command run instead of converting them again.
os.environ.setdefault("MODELS_DIR", str(Path(__file__).resolve().parent.parent / "var" / "models"))

from studio.env import VAR_DIR  # noqa: E402
from studio.settings import *  # noqa: E402,F403
from studio.settings import DATABASES  # noqa: E402

ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so a live server process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
# Threads of database_sync_to_async must not keep connections open past a test (teardown drops the DB).
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

# The toy `rank` kind of tests/toykinds: listed here and nowhere else, as a real kind would be.
PRODUCT_KIND_MODULES = [*PRODUCT_KIND_MODULES, "tests.toykinds.fixed_rank"]  # noqa: F405
INFERENCE_RUNNER_MODULES = [*INFERENCE_RUNNER_MODULES, "tests.toykinds.fixed_rank_runner"]  # noqa: F405
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], Path(__file__).resolve().parent / "templates"]  # noqa: F405
STATICFILES_DIRS = [Path(__file__).resolve().parent / "static"]
