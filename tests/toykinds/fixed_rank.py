"""A `rank` kind that always recommends the same items, best first: the toy of the typed-kinds contract."""

from __future__ import annotations

from typing import Any

from inference.protocol import InferenceRequest, Task
from products.kinds.base import InputField, PrepareContext, ProductKind, ProductTemplate
from products.kinds.registry import register

CATALOG = [
    {"id": "tent-2p", "title": "Two-person tent"},
    {"id": "stove", "title": "Camping stove"},
    {"id": "lamp", "title": "Head lamp"},
]


@register
class FixedRank(ProductKind):
    id = "fixed-rank"
    name = "Fixed picks"
    description = "Always recommends the same few items (a test kind)."
    task = Task.RANK
    result_template = "toykinds/fixed_rank_result.html"
    renderer = "toykinds/items.js"
    openai_compatible = False
    max_variants = 1
    templates = (
        ProductTemplate(
            id="staff-picks", name="Staff picks", description="The same three items for everyone.",
            inputs=(InputField("user", "User id", max_length=60),
                    InputField("count", "How many", type="number", minimum=1, maximum=3, default=3, required=False)),
            message_input="user",
        ),
    )

    def prepare(self, config, inputs: dict[str, Any], context: PrepareContext) -> InferenceRequest:
        return InferenceRequest(task=self.task, model="fixed", query={"user": inputs["user"], "k": inputs["count"],
                                                                      "items": CATALOG})

    def result_text(self, result: dict[str, Any]) -> str:
        return ", ".join(item["title"] for item in result.get("items", []))
