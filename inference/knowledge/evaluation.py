"""Running a knowledge evaluation: each test question through the answer runner's retrieval, then the figures.

Per question, exactly what the answer runner does before it writes (inference/runners/answer.py): the
question embedded with MiniLM (alone, and with its earlier turns when the row is a follow-up), the hybrid
search of the index (``LoadedIndex.search``: dense + BM25 fused by rank), and abstention when the best dense
cosine over the whole index is below the threshold. No answer is written: this
measures retrieval, which is what a person fixes by editing documents or the threshold.

Results are written ``BATCH`` questions at a time while this worker holds the lease (the job row is locked
for the write), so a worker lost half-way leaves whole batches, and whoever claims the job next continues
after the last stored row; the unique (evaluation, row) constraint makes a second copy impossible.

The figures (``evaluation_summary``) use numpy and scikit-learn: recall@k over the questions it should
answer, the abstention rates, and the suggested threshold, the one that maximises the share of questions
handled right (answered with the expected passage among those it uses, or abstained on when the set marks
them “no”), read off ``sklearn.metrics.roc_curve``.
"""

from __future__ import annotations

import logging
import threading
from itertools import islice
from typing import Any

import numpy as np
from django.db import transaction

from inference.jobs import job_finish, job_held, job_release
from inference.models import KnowledgeEvaluation, KnowledgeEvaluationResult, KnowledgeIndex

logger = logging.getLogger(__name__)

#: Questions embedded together and stored with one progress update.
BATCH = 32
#: The ks of recall@k the report shows.
RECALL_AT = (1, 3, 5)
RETRIEVED_TEXT_CHARS = 300


class EvaluationError(ValueError):
    """An evaluation that cannot run; the message says what to do."""


def _retrieved(hits) -> list[dict[str, Any]]:
    return [{"title": h.title, "text": h.text[:RETRIEVED_TEXT_CHARS], "score": round(h.score, 3),
             "source_row": h.source_row} for h in hits]


def found_rank(expected: str, hits) -> int | None:
    from products.knowledge.evaluation import passage_matches

    return next((rank for rank, hit in enumerate(hits, 1)
                 if passage_matches(expected, title=hit.title, text=hit.text, source_row=hit.source_row)), None)


def knowledge_evaluation_run(*, evaluation: KnowledgeEvaluation, worker: str, lease_lost: threading.Event,
                             shutdown: threading.Event) -> None:
    """Run ``evaluation`` (leased to ``worker``) from its first unstored question to the figures."""
    from django.core.exceptions import ValidationError

    from products.knowledge.evaluation import test_questions

    try:
        index = evaluation.index
        if index.status != KnowledgeIndex.Status.SUCCEEDED:
            raise EvaluationError("The knowledge base was not ready to search any more; evaluate again once the "
                                  "Knowledge tab says it is ready.")
        questions = list(test_questions(evaluation.test_version))
        _retrieve_and_store(evaluation, questions, worker=worker, lease_lost=lease_lost, shutdown=shutdown)
    except ValidationError as exc:
        _fail(evaluation, worker=worker, message=" ".join(exc.messages))
    except EvaluationError as exc:
        _fail(evaluation, worker=worker, message=str(exc))
    except Exception as exc:
        logger.exception("Knowledge evaluation %s failed", evaluation.pk)
        _fail(evaluation, worker=worker, message=f"The evaluation stopped on an unexpected error ({exc}). Start it "
                                                 "again; if it fails the same way, tell your administrator.")


def _retrieve_and_store(evaluation: KnowledgeEvaluation, questions, *, worker: str, lease_lost: threading.Event,
                        shutdown: threading.Event) -> None:
    from inference.knowledge.search import index_cache, search_many

    stored = set(KnowledgeEvaluationResult.objects.filter(evaluation=evaluation).values_list("row", flat=True))
    with transaction.atomic():
        held = job_held(KnowledgeEvaluation, job_id=evaluation.pk, worker=worker)
        if held is None:
            return
        held.questions_total, held.questions_done, held.error = len(questions), len(stored), ""
        held.save(update_fields=["questions_total", "questions_done", "error"])
    loaded = index_cache().get(evaluation.index)
    todo = iter([q for q in questions if q.row not in stored])
    done = len(stored)
    while batch := list(islice(todo, BATCH)):
        if lease_lost.is_set():  # the job went back to the queue; whoever claims it continues from the stored rows
            logger.warning("Knowledge evaluation %s: lease lost at question %s; stopping", evaluation.pk, done)
            return
        if shutdown.is_set():
            job_release(KnowledgeEvaluation, job_id=evaluation.pk, worker=worker)
            logger.info("Knowledge evaluation %s given back at question %s (shutting down)", evaluation.pk, done)
            return
        # The answer runner's own query: the question with its earlier turns (a follow-up reads them as a chat
        # does), embedded, then the hybrid search.
        found_all = search_many(loaded, [(q.question, list(q.earlier)) for q in batch],
                                top_k=max(KnowledgeEvaluation.RETRIEVED, evaluation.top_k))
        rows = []
        for q, found in zip(batch, found_all, strict=True):
            # The answer runner's abstention rule, on the version's threshold.
            abstained = found.best_score < evaluation.threshold or not found.hits
            rows.append(KnowledgeEvaluationResult(
                evaluation_id=evaluation.pk, row=q.row, question=q.question, expected=q.expected,
                should_answer=q.should_answer, best_score=round(found.best_score, 4), abstained=abstained,
                found_rank=found_rank(q.expected, found.hits) if q.expected else None,
                retrieved=_retrieved(found.hits[:KnowledgeEvaluation.RETRIEVED]), earlier="\n".join(q.earlier)))
        with transaction.atomic():
            # The row lock orders this write against a sweep and a new claim: once the job is someone else's,
            # nothing of this attempt is written any more.
            held = job_held(KnowledgeEvaluation, job_id=evaluation.pk, worker=worker)
            if held is None:
                return
            KnowledgeEvaluationResult.objects.bulk_create(rows)
            done += len(rows)
            held.questions_done = done
            held.save(update_fields=["questions_done"])
    results = list(KnowledgeEvaluationResult.objects.filter(evaluation=evaluation))
    summary = evaluation_summary(results, threshold=evaluation.threshold, top_k=evaluation.top_k)
    if job_finish(KnowledgeEvaluation, job_id=evaluation.pk, worker=worker, status=KnowledgeEvaluation.Status.SUCCEEDED,
                  summary=summary, suggested_threshold=summary["suggested"]["threshold"]) is None:
        return
    logger.info("Knowledge evaluation %s finished: %s questions", evaluation.pk, len(results))


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def handled_right(*, answerable: np.ndarray, found: np.ndarray, scores: np.ndarray, threshold: float) -> int:
    """Questions handled right at ``threshold``: answered with the expected passage among those used, or
    abstained on when the set says the documents cannot answer them (the answer runner's rule: answer when
    the best cosine is at least the threshold)."""
    answers = scores >= threshold
    return int(np.sum(answers & answerable & found) + np.sum(~answers & ~answerable))


def suggest_threshold(*, answerable: np.ndarray, found: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """The threshold that handles the most questions right; among equals, the one with the widest gap below it.

    ``roc_curve`` lists every threshold at which the decision "answer when score ≥ t" changes, with the true
    and false positive rates there (positives: answerable questions whose passage is used; negatives: those
    marked “no”). The suggestion sits halfway between that score and the next lower one, so a question
    scoring a hair under the boundary is not decided by rounding.
    """
    from sklearn.metrics import roc_curve

    positive = answerable & found
    negatives = int(np.sum(~answerable))
    if negatives == 0:
        return {"threshold": None, "reason": "no_unanswerable"}
    if not positive.any():
        return {"threshold": None, "reason": "nothing_found"}
    # Answerable questions whose passage is not used are neither: answering them or not is wrong either way.
    keep = positive | ~answerable
    fpr, tpr, cuts = roc_curve(positive[keep].astype(int), scores[keep], drop_intermediate=False)
    right = tpr * positive.sum() + (1 - fpr) * negatives
    cuts = np.minimum(cuts, 1.0)  # the first cut (answer nothing) is +inf
    below = np.array([scores[keep][scores[keep] < c].max(initial=0.0) for c in cuts])
    gap = cuts - below
    best = np.lexsort((-gap, -right))[0]  # most right, then widest gap
    threshold = float(np.clip(round((cuts[best] + below[best]) / 2, 3), 0.0, 1.0))
    return {"threshold": threshold, "reason": "",
            "right": handled_right(answerable=answerable, found=found, scores=scores, threshold=threshold)}


def evaluation_summary(results: list[KnowledgeEvaluationResult], *, threshold: float, top_k: int) -> dict[str, Any]:
    """The report's figures, as plain JSON (the web tier renders them without numpy)."""
    answerable = np.array([r.should_answer for r in results], dtype=bool)
    scores = np.array([r.best_score for r in results], dtype=float)
    ranks = np.array([r.found_rank or 0 for r in results], dtype=int)
    abstained = np.array([r.abstained for r in results], dtype=bool)
    used = (ranks >= 1) & (ranks <= top_k)  # the expected passage is among those the answer is written from
    n_answerable, n_unanswerable = int(answerable.sum()), int((~answerable).sum())
    found_at = {str(k): int(np.sum(answerable & (ranks >= 1) & (ranks <= k))) for k in RECALL_AT}
    suggested = suggest_threshold(answerable=answerable, found=used, scores=scores)
    current_right = handled_right(answerable=answerable, found=used, scores=scores, threshold=threshold)
    return {
        "questions": len(results), "answerable": n_answerable, "unanswerable": n_unanswerable,
        "follow_ups": sum(1 for r in results if r.earlier),
        "top_k": top_k, "threshold": threshold,
        "found_at": found_at, "recall": {k: _share(v, n_answerable) for k, v in found_at.items()},
        "abstained_answerable": int(np.sum(abstained & answerable)),
        "abstained_answerable_share": _share(int(np.sum(abstained & answerable)), n_answerable),
        "answered_unanswerable": int(np.sum(~abstained & ~answerable)),
        "answered_unanswerable_share": _share(int(np.sum(~abstained & ~answerable)), n_unanswerable),
        "right": current_right, "right_share": _share(current_right, len(results)),
        "suggested": {**suggested, "right_share": _share(suggested.get("right", 0), len(results))
                      if suggested["threshold"] is not None else None},
    }


def _fail(evaluation: KnowledgeEvaluation, *, worker: str, message: str) -> None:
    job_finish(KnowledgeEvaluation, job_id=evaluation.pk, worker=worker, status=KnowledgeEvaluation.Status.FAILED,
               error=message, before=lambda held: KnowledgeEvaluationResult.objects.filter(evaluation=held).delete(),
               questions_done=0)  # the clean-up: no half report
