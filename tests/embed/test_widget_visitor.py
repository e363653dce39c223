"""The widget's visitor id: sent in each generate frame, logged on the Generation, and what the A/B split hashes."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from products.releases.assignment import CANDIDATE, arm_for
from products.releases.services import release_start
from products.services import product_version_create
from tests.embed.test_widget_consumer import _frames_until_end, _generations, _open
from tests.fakes import fake_worker

pytestmark = pytest.mark.django_db(transaction=True)

VISITOR_IDS = [f"{n:032x}" for n in range(1, 9)]


@pytest.fixture
def shop_widget(make_team, make_widget_product):
    return make_widget_product(make_team("Acme"))


@database_sync_to_async
def _split(product):
    owner = product.team.memberships.get().user
    return release_start(product=product, candidate=product_version_create(product=product, user=owner),
                         share_percent=50, user=owner)


async def test_each_visitor_id_is_logged_and_picks_its_arm_and_a_malformed_one_is_not_logged(shop_widget):
    release = await _split(shop_widget)
    async with fake_worker():
        communicator = await _open(shop_widget.public_key)
        for visitor in [*VISITOR_IDS, {"not": "an id"}]:
            await communicator.send_json_to({"action": "generate", "message": "Summer sale", "visitor": visitor})
            assert (await _frames_until_end(communicator))[-1]["event"] == "done"
        await communicator.disconnect()

    generations = sorted(await _generations(), key=lambda g: g.pk)
    *by_id, malformed = generations
    for visitor, generation in zip(VISITOR_IDS, by_id, strict=True):
        arm = arm_for(product_id=shop_widget.pk, release_id=release.pk, stable_id=visitor, share_percent=50)
        assert (generation.visitor, generation.arm, generation.release_id) == (visitor, arm, release.pk)
        assert generation.version.number == (2 if arm == CANDIDATE else 1)
    assert {g.arm for g in by_id} == {"control", "candidate"}
    assert (malformed.visitor, malformed.arm, malformed.version.number) == ("", "control", 1)
