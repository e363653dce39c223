"""Recommenders (planned): for now, the catalog and interactions dataset layouts they will train on.

Both datasets can already be uploaded and checked; training and serving a recommender arrive with
the recommendations issue, which fills in templates, ``prepare`` and the rank runner.
"""

from __future__ import annotations

from typing import Any

from inference.protocol import Task
from products.datasets.shapes import Block, Need, Shape, facts
from products.kinds.base import ProductKind
from products.kinds.registry import register


def _render_catalog(example: dict[str, Any]) -> list[Block]:
    title = example.get("title")
    return [Block(f"Item {example['item']}" + (f": {title}" if title else ""), facts(example["text"]))]


def _render_interaction(example: dict[str, Any]) -> list[Block]:
    text = f"User {example['user']} → item {example['item']}"
    if example.get("rating"):
        text += f", rating {example['rating']}"
    if example.get("timestamp"):
        text += f", at {example['timestamp']}"
    return [Block("Interaction", text)]


@register
class Recommendation(ProductKind):
    id = "recommendation"
    name = "Recommendations"
    description = "Recommends items from your catalog for a customer, an item or a browsing session, with reasons."
    task = Task.RANK
    status = "planned"
    openai_compatible = False
    dataset_shapes = (
        Shape(
            "recommendation", "catalog", "Recommendations: catalog of items",
            "Each row is one item you can recommend, with the text that describes it.",
            (
                Need("item", "Item id", "A unique id for the item, e.g. SKU.",
                     synonyms=("item", "itemid", "id", "sku", "productid", "product")),
                Need("title", "Item name", "Optional: the item's name, shown in recommendations.", required=False,
                     synonyms=("title", "name")),
                Need("text", "Item text", "The columns that describe the item.", multiple=True, takes_rest=True),
            ),
            _render_catalog,
        ),
        Shape(
            "recommendation", "interactions", "Recommendations: interactions",
            "Each row says a user bought, viewed or rated an item.",
            (
                Need("user", "User", "Who interacted.",
                     synonyms=("user", "userid", "customer", "customerid", "visitor")),
                Need("item", "Item", "What they interacted with.",
                     synonyms=("item", "itemid", "product", "productid", "sku")),
                Need("rating", "Rating", "Optional: how much they liked it.", required=False,
                     synonyms=("rating", "score", "stars")),
                Need("timestamp", "Time", "Optional: when it happened.", required=False,
                     synonyms=("timestamp", "time", "date", "datetime", "createdat")),
            ),
            _render_interaction,
        ),
    )
