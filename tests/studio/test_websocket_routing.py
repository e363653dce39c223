"""The studio's websocket routing: same-origin and a team session only."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from studio.asgi import application
from studio.consumers import team_group_name

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _session_cookie_for(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"sessionid={session.session_key}"


def _communicator(path: str, origin: bytes, cookie: str = "") -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


@pytest.fixture
def team_and_owner(make_team):
    team = make_team("Acme")
    return team, team.memberships.get().user


async def test_websocket_from_a_foreign_origin_is_rejected(team_and_owner):
    team, owner = team_and_owner
    cookie = await _session_cookie_for(owner)
    communicator = _communicator(f"/ws/teams/{team.slug}/", b"https://evil.example", cookie)
    connected, _ = await communicator.connect()
    await communicator.disconnect()  # end the refused consumer in this test's loop, not at teardown
    assert connected is False


async def test_team_member_on_the_site_origin_receives_team_events(team_and_owner):
    team, owner = team_and_owner
    cookie = await _session_cookie_for(owner)
    communicator = _communicator(f"/ws/teams/{team.slug}/", b"http://localhost", cookie)
    connected, _ = await communicator.connect()
    assert connected is True
    await get_channel_layer().group_send(
        team_group_name(team.pk), {"type": "team.event", "payload": {"event": "hello"}}
    )
    assert await communicator.receive_json_from(timeout=3) == {"event": "hello"}
    await communicator.disconnect()


async def test_websocket_for_a_team_i_am_not_in_is_closed(team_and_owner, make_team):
    team, _ = team_and_owner
    other_owner = (await database_sync_to_async(make_team)("Other")).memberships
    stranger = await database_sync_to_async(lambda: other_owner.get().user)()
    cookie = await _session_cookie_for(stranger)
    communicator = _communicator(f"/ws/teams/{team.slug}/", b"http://localhost", cookie)
    connected, code = await communicator.connect()
    await communicator.disconnect()  # end the refused consumer in this test's loop, not at teardown
    assert (connected, code) == (False, 4403)


async def test_anonymous_websocket_is_closed(team_and_owner):
    team, _ = team_and_owner
    communicator = _communicator(f"/ws/teams/{team.slug}/", b"http://localhost")
    connected, _ = await communicator.connect()
    await communicator.disconnect()  # end the refused consumer in this test's loop, not at teardown
    assert connected is False
