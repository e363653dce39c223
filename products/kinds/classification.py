"""Text classifiers (planned): for now, the labelled-texts dataset layout they will train on.

Labelled datasets can already be uploaded and checked; training and serving a classifier arrive
with the classification issue, which fills in templates, ``prepare`` and the classify runner.
"""

from __future__ import annotations

from typing import Any

from inference.protocol import Task
from products.datasets.shapes import Block, Need, Shape
from products.kinds.base import ProductKind
from products.kinds.registry import register

SYSTEM = "Sort the message into one category. Reply with the category only."


def _render_labelled(example: dict[str, Any]) -> list[Block]:
    return [Block("System", SYSTEM), Block("User", example["text"]), Block("Assistant", example["label"], True)]


@register
class Classification(ProductKind):
    id = "classification"
    name = "Classification"
    description = "Sorts messages into your categories (sentiment, support topics, spam) with a confidence."
    task = Task.CLASSIFY
    status = "planned"
    dataset_shapes = (
        Shape(
            "classification", "labelled", "Classification: text → label",
            "Each row is a message and the category it belongs to.",
            (
                Need("text", "Text", "The message to sort.",
                     synonyms=("text", "message", "content", "body", "sentence", "review", "ticket", "comment")),
                Need("label", "Label", "The category the model learns to choose.",
                     synonyms=("label", "category", "class", "intent", "tag", "topic", "sentiment", "type")),
            ),
            _render_labelled,
        ),
    )
