"""Release fixtures: a published chat-style product with a second saved version, and a way to ask it."""

from __future__ import annotations

import pytest

from products.generation import Actor, generation_start
from products.models import Generation, Product
from products.services import product_create, product_version_create, product_version_publish
from tests.api.conftest import fresh_rate_limits, make_key, make_product  # noqa: F401 - shared fixtures


@pytest.fixture
def shop(make_team):
    return make_team("Shop")


@pytest.fixture
def owner(shop):
    return shop.memberships.get().user


@pytest.fixture
def product(shop, owner) -> Product:
    """Social posts (a message fills its topic): version 1 live, version 2 saved; widget limits out of the way."""
    product = product_create(team=shop, user=owner, kind_id="copywriting", template_id="social-post", name="Posts")
    product_version_publish(product=product, version=product_version_create(product=product, user=owner, note="one"))
    product_version_create(product=product, user=owner, note="two")
    Product.objects.filter(pk=product.pk).update(widget_messages_per_visitor_hour=100_000,
                                                 widget_messages_per_day=100_000)
    product.refresh_from_db()
    return product


def ask(product: Product, visitor_id: str) -> Generation:
    """One widget message from the visitor whose random id is ``visitor_id``, through the one start path."""
    started = generation_start(product=Product.objects.select_related("live_version").get(pk=product.pk),
                               version="live", channel=Generation.Channel.WIDGET,
                               actor=Actor(visitor="203.0.113.9", visitor_id=visitor_id), message="Summer sale")
    return started.generations[0]
