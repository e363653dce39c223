from __future__ import annotations

import itertools
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model

from studio.models import Membership, Team
from studio.roles import Role
from tests import flush_guard
from tests.live import (  # noqa: F401 - fixtures for every test folder
    live_media_root,
    live_server_url,
    live_studio,
    live_studio_env,
)

flush_guard.install()


def pytest_collection_modifyitems(config, items):
    """The default suite (and .ci/run) skips tests marked slow; STUDIO_RUN_SLOW=1 or `-m slow` runs them."""
    if os.environ.get("STUDIO_RUN_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow (a ~250 MB model): run with STUDIO_RUN_SLOW=1 or -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


_emails = itertools.count(1)
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session", autouse=True)
def bundled_models():
    """Install the bundled models once (a fresh clone has none), before any test or test server needs them."""
    from django.conf import settings

    from inference.install import install_bundled_models

    return install_bundled_models(settings.MODELS_DIR, log=lambda _message: None)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory) -> Path:
    """Every test writes datasets, checkpoints and artifacts to its own empty media folder, never to var/.

    Beside the test's ``tmp_path``, not inside it, so a test that looks at ``tmp_path`` finds only its own files.
    """
    root = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets a new channel-layer object.

    The layer is a process-wide singleton, and channels-redis keeps receive state on it (a lock, a count
    of receivers, buffers) bound to the event loop that first received. Every async test has its own
    loop, so a receive cut short when one test's loop closed could leave the next test's worker or
    consumer waiting on a lock from a dead loop, or lose its messages.
    """
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture
def pinned_rate_window(monkeypatch):
    """Rate limits count in fixed clock windows; pin the clock so a test's requests never straddle two."""
    import studio.ratelimit

    now = studio.ratelimit.time.time()
    monkeypatch.setattr(studio.ratelimit, "time", SimpleNamespace(time=lambda: now))


@pytest.fixture
def make_user(db):
    def make(email: str | None = None, password: str = PASSWORD):
        email = email or f"person{next(_emails)}@example.com"
        user = get_user_model().objects.create_user(username=email, email=email, password=password)
        return user

    return make


@pytest.fixture
def make_team(db, make_user):
    def make(name: str = "Acme", *, owner=None) -> Team:
        from studio.services import team_create

        return team_create(name=name, owner=owner or make_user())

    return make


@pytest.fixture
def make_member(db, make_user):
    def make(team: Team, role: str = Role.EDITOR, user=None) -> Membership:
        return Membership.objects.create(team=team, user=user or make_user(), role=role)

    return make


@pytest.fixture
def owner_client(client, make_team):
    """A logged-in client whose user owns team ``client.team``."""
    team = make_team("Acme")
    owner = team.memberships.get().user
    client.force_login(owner)
    client.team, client.user = team, owner
    return client
