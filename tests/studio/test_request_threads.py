"""HTTP requests under ASGI keep their database connection from one request to the next (studio/request_threads.py)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from django.core.signals import request_finished
from django.db import connection, connections

from products.api.services import api_key_create
from studio.asgi import application, http_application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def kept_connections(monkeypatch):
    """Call to keep connections between requests as studio/settings.py does (the test settings close each one)."""
    yield lambda: monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    http_application.close()  # the pooled threads' connections, or the test database cannot be dropped


def _backend_of_each_request() -> list:
    """The driver connection each request used, recorded as the request ends. The objects themselves are kept, so a
    connection that was closed and replaced can never pass for the same one (a freed object's id can be reused)."""
    used = []

    def record(**_):
        used.append(connection.connection)

    request_finished.connect(record, weak=False, dispatch_uid="test-request-threads")
    return used


async def test_consecutive_api_requests_reuse_one_database_connection(kept_connections, make_team):
    team = await database_sync_to_async(make_team)("Acme")
    owner = await database_sync_to_async(lambda: team.memberships.get().user)()
    secret = (await database_sync_to_async(api_key_create)(team=team, user=owner, name="CI", scope="read")).secret
    kept_connections()  # only now: this test's own database_sync_to_async thread closes its connection
    used = _backend_of_each_request()
    try:
        statuses = []
        for _ in range(5):
            communicator = HttpCommunicator(application, "GET", "/api/v1/products/", headers=[
                (b"host", b"localhost"), (b"authorization", f"Bearer {secret}".encode())])
            statuses.append((await communicator.get_response(timeout=10))["status"])
            await communicator.wait(timeout=10)  # the request's end (request_finished) is after its body
    finally:
        request_finished.disconnect(dispatch_uid="test-request-threads")
    assert statuses == [200] * 5
    assert len(used) == 5 and None not in used  # each request looked its key up in the database
    assert all(raw is used[0] for raw in used), f"a new database connection for each request: {used}"
