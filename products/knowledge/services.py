"""Asking for a knowledge base to be indexed, and what uses one. Rows only: the index worker builds it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from inference.models import KnowledgeIndex
from products.datasets.selectors import dataset_version_examples
from products.models import DatasetVersion, ProductVersion, Verdict

#: The dataset shapes a knowledge base can be made of (products/kinds/qa.py declares them).
KNOWLEDGE_SHAPES = ("documents", "pairs")


def knowledge_dataset_check(*, dataset_version: DatasetVersion) -> None:
    """Raise ValidationError, in words a person can act on, when a dataset version cannot be a knowledge base."""
    if dataset_version.kind != "qa" or dataset_version.shape not in KNOWLEDGE_SHAPES:
        raise ValidationError({"knowledge_version": (
            f"{dataset_version} is not mapped as Q&A documents or question → answer pairs. Re-map it on its "
            "dataset page (“Change mapping or split”)."
        )})
    if dataset_version.verdict == Verdict.UNUSABLE:
        raise ValidationError(
            {"knowledge_version": f"{dataset_version} cannot be used: fix the problems its report lists."}
        )
    # Streams the file until the first usable row (all of it only when there is none).
    if next(dataset_version_examples(dataset_version), None) is None:
        columns = " or ".join(f"“{c}”" for need, cs in dataset_version.column_mapping.items() if need != "title"
                              for c in cs)
        raise ValidationError({"knowledge_version": (
            f"{dataset_version} has no passage text: every row's {columns or 'text'} is empty. Map the column that "
            "holds the passages on its dataset page (“Change mapping or split”), or upload a file with text in it."
        )})


def knowledge_index_request(*, dataset_version: DatasetVersion) -> KnowledgeIndex:
    """The index of ``dataset_version``: the one it has, or a new queued one. Idempotent under races."""
    knowledge_dataset_check(dataset_version=dataset_version)
    existing = KnowledgeIndex.objects.filter(dataset_version=dataset_version).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return KnowledgeIndex.objects.create(
                team_id=dataset_version.dataset.team_id, dataset_version=dataset_version, queue=KnowledgeIndex.INDEX,
            )
    except IntegrityError:  # two requests at once: the other one made it
        return KnowledgeIndex.objects.get(dataset_version=dataset_version)


def knowledge_index_versions_using(*, index: KnowledgeIndex) -> list[ProductVersion]:
    """Product versions that answer from this index's dataset version (it cannot be deleted while they do)."""
    return list(ProductVersion.objects.filter(knowledge_version_id=index.dataset_version_id).select_related("product"))
