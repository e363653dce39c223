"""API test helpers: published products, API keys, authenticated clients and a real worker."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.core.cache import cache
from rest_framework.test import APIClient

from products.api.services import api_key_create
from products.models import ApiKey
from products.services import product_create, product_draft_update, product_version_create, product_version_publish

INPUTS = {"product": "Trail running shoes", "benefit": "dry feet", "tone": "bold"}
# For the product-description template, whose answers run long (for stop and disconnect tests).
LONG_INPUTS = {"product": "Trail running shoes", "features": "Waterproof\nWeighs 220 g\nRecycled sole"}


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the shared cache (Redis in CI); every test starts from zero."""
    cache.clear()
    yield


@pytest.fixture
def make_product():
    """``make_product(team, name=..., published=True)``: a short, greedy ad-headline product by default."""

    def make(team, *, name: str = "Headlines", published: bool = True, length: int = 8,
             template_id: str = "ad-headlines"):
        owner = team.memberships.get(role="owner").user
        product = product_create(team=team, user=owner, kind_id="copywriting", template_id=template_id, name=name)
        product_draft_update(product=product, system_prompt=product.system_prompt,
                             prompt_template=product.prompt_template,
                             settings={"creativity": 0, "length": length, "variants": 1})
        if published:
            version = product_version_create(product=product, user=owner, note="first")
            product_version_publish(product=product, version=version)
        product.refresh_from_db()
        return product

    return make


@pytest.fixture
def make_key():
    """``make_key(team, scope="manage") -> secret``: every scope unless a test narrows it."""

    def make(team, scope: str = ApiKey.Scope.MANAGE, name: str = "Backend") -> str:
        owner = team.memberships.get(role="owner").user
        return api_key_create(team=team, user=owner, name=name, scope=scope).secret

    return make


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
async def worker():
    """A real inference worker on the test's event loop and channel layer."""
    from inference.worker import InferenceWorker

    task = asyncio.create_task(InferenceWorker(get_channel_layer()).run())
    yield task
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
