"""Embed widget fixtures: a published chat-style product with an allow-list, and the API tests' helpers."""

from __future__ import annotations

import pytest

from products.embed.services import product_embed_update
from tests.api.conftest import fresh_rate_limits, make_product, worker  # noqa: F401 - shared fixtures

SHOP = "https://shop.example"


@pytest.fixture
def make_widget_product(request):
    """``make_widget_product(team, origins=[SHOP], per_visitor_hour=20, per_day=1000, **product_options)``.

    A social-post product: a visitor's message fills its one free-text input ("topic"), the others
    have defaults, so it works as a chat. Greedy and short unless ``length`` says otherwise.
    """

    product_maker = request.getfixturevalue("make_product")  # imported above; a parameter would shadow it

    def make(team, *, origins: list[str] | None = None, per_visitor_hour: int = 20, per_day: int = 1000,
             **options):
        product = product_maker(team, **{"template_id": "social-post", "name": "Shop helper", **options})
        return product_embed_update(
            product=product, allowed_origins=[SHOP] if origins is None else origins,
            messages_per_visitor_hour=per_visitor_hour, messages_per_day=per_day,
        )

    return make
