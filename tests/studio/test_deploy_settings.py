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


def test_old_secrets_stay_valid_while_rotating_through_secret_key_fallbacks():
    old = "previous-production-secret-" + "9f8e7d6c5b4a3f2e" * 3
    new = "new-production-secret-" + "1a2b3c4d5e6f7a8b" * 3
    signed_with_old = _manage("shell", "--no-imports", "-c", "from django.core import signing; print(signing.dumps(7))",
                              SECRET_KEY=old, DEBUG="0", STUDIO_HTTPS="0").stdout.split()[-1]
    code = f"from django.core import signing; print(signing.loads({signed_with_old!r}))"
    rotated = _manage("shell", "--no-imports", "-c", code, SECRET_KEY=new, SECRET_KEY_FALLBACKS=old, DEBUG="0",
                      STUDIO_HTTPS="0")
    assert rotated.stdout.split()[-1] == "7", rotated.stderr
    without = _manage("shell", "--no-imports", "-c", code, SECRET_KEY=new, DEBUG="0", STUDIO_HTTPS="0")
    assert "BadSignature" in without.stderr
    deploy = _manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=new, SECRET_KEY_FALLBACKS=old,
                     ALLOWED_HOSTS="studio.example.com", DEBUG="0")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
