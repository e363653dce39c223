"""Dataset rows → the product kind's fine-tuning conversations (reads; no torch)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from products.datasets.mapping import example_render
from products.datasets.requirements import shape_get
from products.datasets.selectors import dataset_version_examples
from products.kinds import get_kind
from products.kinds.base import TrainingConversation
from products.models import DatasetVersion


def dataset_version_conversations(
    version: DatasetVersion, *, kind_id: str, prompt_config: dict[str, Any], split: str
) -> Iterator[TrainingConversation]:
    """The version's rows of one split, as the product kind's fine-tuning conversations (streamed)."""
    kind = get_kind(kind_id)
    shape = shape_get(version.kind, version.shape)
    for example in dataset_version_examples(version, kind=kind_id, split=split):
        conversation = kind.training_conversation(
            example=example, rendered=example_render(example, shape=shape), prompt_config=prompt_config
        )
        if conversation is not None:
            yield conversation
