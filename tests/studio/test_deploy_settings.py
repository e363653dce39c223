"""Production settings pass Django's deployment checklist and refuse to start without a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    test_overrides = {"DEBUG", "SECRET_KEY", "STUDIO_HTTPS", "STUDIO_HSTS_SECONDS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in test_overrides}
    clean |= {"DJANGO_SETTINGS_MODULE": "studio.settings", "STUDIO_VAR_DIR": str(ROOT / "var" / "deploycheck")}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=clean | env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        SECRET_KEY="p" * 10 + "-production-secret-with-enough-entropy-9f8e7d6c5b4a",
        ALLOWED_HOSTS="studio.example.com",
        DEBUG="0",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_secret_key():
    result = _manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set. Set SECRET_KEY to a long random string" in result.stderr
