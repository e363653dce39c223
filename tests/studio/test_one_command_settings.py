"""The one-command studio (`python3 -m studio`) is safe by default: DEBUG off, its own secret, the studio's error pages.

The server runs with exactly the environment the launcher gives it (studio/__main__.py), on the test database.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import stat
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

from studio.__main__ import one_command_environment
from tests.conftest import PASSWORD
from tests.live import studio_process
from tests.processes import ROOT, process_env

OLD_PUBLIC_KEY = "django-insecure-local-development-only"


def _launcher_env(var_dir) -> dict[str, str]:
    # SECRET_KEY="" undoes the test suite's own key, so the server must find its secret as the launcher says.
    return one_command_environment({"STUDIO_VAR_DIR": str(var_dir)}) | {
        "STUDIO_VAR_DIR": str(var_dir), "SECRET_KEY": "", "DJANGO_SETTINGS_MODULE": "studio.settings",
    }


@pytest.fixture(scope="module")
def one_command_studio(django_db_setup, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("one-command-var")
    env = _launcher_env(var_dir)
    del env["STUDIO_EMBEDDED_WORKERS"]  # these tests need no model
    with studio_process(embedded_workers=False, **env) as url:
        yield url


def _get(url: str, opener=None) -> tuple[int, str, object]:
    try:
        with (opener or urllib.request.build_opener()).open(url, timeout=30) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers


def test_a_missing_page_shows_the_studios_page_not_the_debug_page(one_command_studio, transactional_db):
    status, body, _ = _get(f"{one_command_studio}/t/nobody/secret-admin-area/")
    assert status == 404
    assert "Page not found" in body
    assert "There is nothing at <code>/t/nobody/secret-admin-area/</code>" in body
    assert "URLconf" not in body and "api/v1/" not in body  # the debug page lists every URL pattern


def test_static_files_and_login_work_over_plain_http(one_command_studio, transactional_db, make_user, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # what the server checks with
    make_user("ada@example.com")
    status, _, headers = _get(f"{one_command_studio}/static/studio/app.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    status, page, _ = _get(f"{one_command_studio}/accounts/login/", opener)
    assert status == 200  # no redirect to https://
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "ada@example.com", "password": PASSWORD})
    request = urllib.request.Request(
        f"{one_command_studio}/accounts/login/", data=form.encode(), headers={"Referer": one_command_studio}
    )
    with opener.open(request, timeout=30) as response:
        assert response.url == f"{one_command_studio}/teams/new/"  # logged in: asked to make a team
    assert {cookie.name for cookie in jar} >= {"sessionid", "csrftoken"}
    assert not any(cookie.secure for cookie in jar)


def _secret_key(var_dir) -> str:
    env = {k: v for k, v in process_env().items() if k not in {"SECRET_KEY", "DEBUG", "STUDIO_HTTPS"}}
    code = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "--no-imports", "-c", code],
        env=env | _launcher_env(var_dir), capture_output=True, text=True, cwd=ROOT, timeout=120, check=True,
    )
    debug, key = result.stdout.split()[-2:]
    assert debug == "False"
    return key


def test_the_generated_secret_is_private_random_and_stable_across_restarts(tmp_path, db):
    first = _secret_key(tmp_path)
    assert _secret_key(tmp_path) == first
    assert first != OLD_PUBLIC_KEY and len(first) >= 50
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert _secret_key(tmp_path / "another-machine") != first
