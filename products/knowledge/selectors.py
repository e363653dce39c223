"""Reads for knowledge bases: which dataset versions can be one, and how far reading one has got."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404

from inference.models import KnowledgeEvaluation, KnowledgeEvaluationResult, KnowledgeIndex
from inference.selectors import knowledge_index_for
from products.knowledge.services import KNOWLEDGE_SHAPES
from products.models import DatasetVersion, ProductVersion, Verdict
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


# Evaluations on test questions ----------------------------------------------------------------------------

#: Evaluations the Evaluation tab lists (the newest).
EVALUATIONS_SHOWN = 10


def evaluation_test_set_choices(*, team: Team) -> QuerySet[DatasetVersion]:
    """The team's dataset versions mapped as Q&A test questions that can be read (for the picker)."""
    from products.kinds.qa import TEST_QUESTIONS_SHAPE

    return (DatasetVersion.objects.filter(dataset__team=team, kind="qa", shape=TEST_QUESTIONS_SHAPE)
            .exclude(verdict=Verdict.UNUSABLE).select_related("dataset").order_by("dataset__name", "-number"))


def evaluation_version_choices(*, product) -> QuerySet[ProductVersion]:
    """The product's saved versions, newest first (the draft is the picker's empty choice)."""
    return ProductVersion.objects.filter(product=product).select_related("product").order_by("-number")


def knowledge_evaluations_for(*, product) -> list[KnowledgeEvaluation]:
    return list(KnowledgeEvaluation.objects.filter(product=product)
                .select_related("test_version__dataset", "index__dataset_version__dataset", "version",
                                "created_by")[:EVALUATIONS_SHOWN])


def knowledge_evaluation_get(*, product, evaluation_id: int) -> KnowledgeEvaluation:
    """One of the product's evaluations; another product's or team's does not exist for this caller (404)."""
    evaluation = (KnowledgeEvaluation.objects.filter(product=product, pk=evaluation_id)
                  .select_related("test_version__dataset", "index__dataset_version__dataset", "version").first())
    if evaluation is None:
        raise Http404("No such evaluation of this assistant.")
    return evaluation


@dataclass(frozen=True)
class Miss:
    """A test question the assistant would get wrong, and why, for the report's table."""

    row: int
    question: str
    expected: str
    problem: str
    best_score: float
    retrieved: list[dict]
    earlier: list[str]  # the earlier turns of a follow-up question ([] when it was asked alone)


def evaluation_misses(*, evaluation: KnowledgeEvaluation) -> list[Miss]:
    """Questions handled wrong at the evaluation's threshold: answerable ones abstained on or whose passage is
    not among the passages used, and ones marked “no” that it would answer. Worst first (by the rule), then row."""
    misses: list[tuple[int, Miss]] = []
    threshold, top_k = evaluation.threshold, evaluation.top_k
    for result in KnowledgeEvaluationResult.objects.filter(evaluation=evaluation).order_by("row"):
        score = f"{result.best_score:.2f}"
        if not result.should_answer:
            if result.abstained:
                continue
            order, problem = 2, f"Answered, but your test set says the documents cannot answer it (best match " \
                                f"{score}, needs {threshold:.2f} to answer)."
        elif result.found_rank is None:
            order, problem = 0, f"The expected passage is not among the {len(result.retrieved)} passages found."
        elif result.found_rank > top_k:
            order, problem = 1, f"Found at place {result.found_rank}, but the assistant uses only the first {top_k}."
        elif result.abstained:
            order, problem = 1, f"Found at place {result.found_rank}, but it said “I don't know”: best match " \
                                f"{score}, needs {threshold:.2f}."
        else:
            continue
        misses.append((order, Miss(result.row, result.question, result.expected, problem, result.best_score,
                                   result.retrieved, result.earlier.splitlines())))
    return [miss for _, miss in sorted(misses, key=lambda pair: (pair[0], pair[1].row))]


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.0f} %"


@dataclass(frozen=True)
class Figure:
    label: str
    value: str  # "93 %"
    detail: str  # "14 of 15 questions"
    testid: str


def evaluation_figures(*, evaluation: KnowledgeEvaluation) -> list[Figure]:
    """The report's headline figures in words, from the summary the worker stored."""
    summary = evaluation.summary or {}
    if not summary:
        return []
    answerable, unanswerable = summary["answerable"], summary["unanswerable"]
    figures = [
        Figure(f"Found in the first {k}", _percent(summary["recall"][k]),
               f"{summary['found_at'][k]} of {answerable} questions it should answer", f"recall-{k}")
        for k in ("1", "3", "5")
    ]
    figures.append(Figure("Said “I don't know” though it should answer", _percent(
        summary["abstained_answerable_share"]), f"{summary['abstained_answerable']} of {answerable}",
        "abstained-answerable"))
    if unanswerable:
        figures.append(Figure("Answered though it should not", _percent(summary["answered_unanswerable_share"]),
                              f"{summary['answered_unanswerable']} of {unanswerable} marked “no”",
                              "answered-unanswerable"))
    if summary.get("follow_ups"):
        figures.append(Figure("Follow-up questions", str(summary["follow_ups"]),
                              f"of {summary['questions']}, searched with their earlier turns as a chat is",
                              "follow-ups"))
    return figures


def evaluation_suggestion(*, evaluation: KnowledgeEvaluation) -> dict | None:
    """The suggested threshold with what it changes, or why there is none; None before the evaluation ends."""
    summary = evaluation.summary or {}
    if not summary:
        return None
    suggested = summary["suggested"]
    reasons = {
        "no_unanswerable": "No threshold is suggested: the test set marks no question “no” in its should-answer "
                           "column, so it cannot say where “I don't know” should start. Add a few questions your "
                           "documents cannot answer, marked “no”.",
        "nothing_found": "No threshold is suggested: none of the questions it should answer found its passage. "
                         "Fix the documents (or the expected texts) first.",
    }
    if suggested["threshold"] is None:
        return {"threshold": None, "reason": reasons.get(suggested["reason"], "No threshold is suggested.")}
    return {"threshold": suggested["threshold"], "right_share": _percent(suggested["right_share"]),
            "current_right_share": _percent(summary["right_share"]), "current": summary["threshold"]}
