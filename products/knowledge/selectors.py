"""Reads for knowledge bases: which dataset versions can be one, and how far reading one has got."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from inference.models import KnowledgeIndex
from inference.selectors import knowledge_index_for
from products.knowledge.services import KNOWLEDGE_SHAPES
from products.models import DatasetVersion, Verdict
from products.models.product import ProductConfig
from studio.models import Team


def knowledge_version_choices(*, team: Team) -> QuerySet[DatasetVersion]:
    """The team's dataset versions mapped as Q&A documents or pairs that can be read (for pickers)."""
    return (
        DatasetVersion.objects.filter(dataset__team=team, kind="qa", shape__in=KNOWLEDGE_SHAPES)
        .exclude(verdict=Verdict.UNUSABLE)
        .select_related("dataset")
        .order_by("dataset__name", "-number")
    )


def knowledge_version_get(*, team: Team, version_id: int) -> DatasetVersion | None:
    """One of the team's dataset versions by id, or None (another team's does not exist for this caller)."""
    return DatasetVersion.objects.select_related("dataset").filter(dataset__team=team, pk=version_id).first()


@dataclass(frozen=True)
class IndexStatus:
    """How a product's knowledge base stands, in the words the pages and the API show."""

    state: str  # none | not_requested | queued | running | ready | failed
    message: str
    percent: int = 0
    passages: int = 0
    error: str = ""
    dataset_version: DatasetVersion | None = None

    @property
    def polling(self) -> bool:
        """The page asks again every 2 s while the index is being built."""
        return self.state in ("queued", "running")


def knowledge_status(*, product: ProductConfig) -> IndexStatus:
    """The status of the knowledge base ``product`` (a draft or a version) answers from."""
    version = product.knowledge_version if product.knowledge_version_id else None
    if version is None:
        return IndexStatus("none", "No knowledge base yet: pick a dataset of your documents in Settings.")
    index = knowledge_index_for(dataset_version_id=version.pk)
    if index is None:
        return IndexStatus("not_requested", "Not read yet: save the knowledge base in Settings to start reading it.",
                           dataset_version=version)
    return index_status(index=index, dataset_version=version)


def index_status(*, index: KnowledgeIndex, dataset_version: DatasetVersion) -> IndexStatus:
    if index.status == KnowledgeIndex.Status.SUCCEEDED:
        passages = index.chunks.count()
        return IndexStatus("ready", f"Ready: {passages} passage{'' if passages == 1 else 's'}", percent=100,
                           passages=passages, dataset_version=dataset_version)
    if index.status in (KnowledgeIndex.Status.FAILED, KnowledgeIndex.Status.CANCELLED):
        error = index.error.strip() or "the index worker gave no reason."
        return IndexStatus("failed", f"Reading your documents failed: {error}", error=error,
                           dataset_version=dataset_version)
    percent = index.progress_percent
    state = "running" if index.status == KnowledgeIndex.Status.RUNNING else "queued"
    return IndexStatus(state, f"Reading your documents: {percent} %", percent=percent, dataset_version=dataset_version)
