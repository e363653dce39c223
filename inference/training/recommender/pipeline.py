"""One claimed recommender run: both datasets, MiniLM item embeddings, three ALS fits, the report, the artifact.

Runs inside ``inference.training.pipeline.fine_tune`` like every method (cancel, lease lost, shutdown and
errors end the row the same way). Steps: 1 for embedding the catalog, then ``iterations`` per ALS fit
(each iteration's training loss is a point on the run's curve), then 1 for the report:

1. validation fit: trained without the hold-out and without each user's latest training interactions,
   which then choose ALS's settings (factors, regularisation, alpha: a small grid, on logs up to
   ``evaluation.MAX_INTERACTIONS_TO_SEARCH`` interactions), then the hybrid's weight, how much more each user's
   latest items count (``Recommender.recency``) and the share of implicit's item-item model in the
   collaborative part (``evaluation.choose_blend``; the hold-out is never looked at to choose anything);
2. evaluation fit: trained without the hold-out; hybrid, ALS, content and popularity scored on it;
3. final fit: on every interaction, with the chosen weight: the artifact the product serves.

A checkpoint is written after the embeddings and after each of the first two fits, so a worker killed
mid-run resumes at the fit it was in.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.conf import settings

from inference.models import ModelArtifact, TrainingRun, TrainingRunInput
from inference.training import services
from inference.training.artifacts import artifact_folder_write
from inference.training.checkpoints import latest_checkpoint, remove_checkpoints, write_checkpoint
from inference.training.progress import CancelRequested, LeaseLost, ProgressReporter, ShutdownRequested
from inference.training.recommender import NotRecommendable, evaluation
from inference.training.recommender.model import (
    ARRAYS_FILE,
    AlsSettings,
    Recommender,
    confidence_matrix,
    fit_als,
    fit_neighbours,
)
from products.recommendations.data import RecommenderData, item_text, recommender_data
from products.training.hyperparameters import HyperParameters, recommender_total_steps

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"
EMBEDDINGS_FILE = "embeddings.npy"


def als_settings(params: HyperParameters) -> AlsSettings:
    """The run's stored settings as ALS's: ``epochs`` are ALS iterations, ``lora_rank`` the factors (one settings
    record for every method; the recommender's form offers no advanced settings)."""
    return AlsSettings(iterations=params.epochs, seed=params.seed, factors=params.lora_rank)


def run_inputs(run: TrainingRun) -> RecommenderData:
    """The run's catalog and interactions read together; NotRecommendable with the first problem."""
    catalog = TrainingRunInput.objects.filter(run=run, role=TrainingRunInput.Role.CATALOG).select_related(
        "dataset_version__dataset").first()
    if catalog is None:
        raise NotRecommendable("This run names no catalog. Start it again from the product's Train tab.")
    data = recommender_data(catalog=catalog.dataset_version, interactions=run.dataset_version)
    if data.problems:
        raise NotRecommendable(data.problems[0])
    return data


def _order_key(value: str) -> float:
    """A timestamp as a number: seconds, or an ISO date/time; empty or unreadable sorts by file order."""
    if not value:
        return np.nan
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return np.nan


class Arrays:
    """The interactions as index arrays, in time order (file order breaks ties and replaces missing times)."""

    def __init__(self, data: RecommenderData) -> None:
        self.item_ids = [item.id for item in data.items]
        item_index = {item: i for i, item in enumerate(self.item_ids)}
        self.user_ids = sorted({row.user for row in data.interactions})
        user_index = {user: i for i, user in enumerate(self.user_ids)}
        self.users = np.asarray([user_index[row.user] for row in data.interactions], dtype=np.int64)
        self.items = np.asarray([item_index[row.item] for row in data.interactions], dtype=np.int64)
        self.weights = np.asarray([row.rating for row in data.interactions], dtype=np.float32)
        times = np.asarray([_order_key(row.timestamp) for row in data.interactions], dtype=np.float64)
        lines = np.asarray([row.line for row in data.interactions], dtype=np.float64)
        # Rank by time, then line: an interaction without a time keeps its place in the file.
        fallback = np.isnan(times)
        times = np.where(fallback, np.nanmax(times) if (~fallback).any() else 0.0, times)
        self.order = np.lexsort((lines, times)).argsort().astype(np.int64)

    def popularity(self, positions: np.ndarray) -> np.ndarray:
        """Interactions per item among ``positions``: a fit's popularity never counts what it is scored on."""
        return np.bincount(self.items[positions], minlength=len(self.item_ids)).astype(np.float32)

    def matrix(self, positions: np.ndarray):
        return confidence_matrix(self.users[positions], self.items[positions], self.weights[positions],
                                 users=len(self.user_ids), items=len(self.item_ids))

    def ages(self, positions: np.ndarray, matrix) -> np.ndarray:
        """``Recommender.history_age`` of ``matrix`` (``self.matrix(positions)``), beside its data: how many of
        the user's items in it they chose later (0: their latest), an item chosen twice counting at its latest."""
        newest_first = positions[np.argsort(self.order[positions], kind="stable")[::-1]]
        keys = self.users[newest_first] * len(self.item_ids) + self.items[newest_first]
        latest = newest_first[np.unique(keys, return_index=True)[1]]
        when = sp.csr_matrix((self.order[latest] + 1.0, (self.users[latest], self.items[latest])), shape=matrix.shape)
        when = when.multiply(matrix != 0).tocsr()  # the pairs the matrix kept (a zero confidence is dropped)
        when.sort_indices()
        if not np.array_equal(when.indices, matrix.indices) or not np.array_equal(when.indptr, matrix.indptr):
            raise ValueError("The ages do not line up with the interactions matrix.")
        rows = np.repeat(np.arange(matrix.shape[0]), np.diff(when.indptr))
        by = np.lexsort((-when.data, rows))  # each user's entries, latest first
        ages = np.empty(when.nnz, dtype=np.int32)
        ages[by] = np.arange(when.nnz) - when.indptr[rows[by]]
        return ages


def train_recommender(run: TrainingRun, params: HyperParameters, *, worker: str, shutdown: threading.Event,
                      lease_lost: threading.Event) -> None:
    from inference.knowledge.embedder import embed

    data = run_inputs(run)  # before MiniLM loads: bad rows fail fast
    arrays = Arrays(data)
    als = als_settings(params)
    total = recommender_total_steps(params)
    root = _checkpoint_root(run.pk)
    checkpoint = latest_checkpoint(root)
    state: dict[str, Any] = {}
    embeddings = None
    if checkpoint is not None:
        state = json.loads((checkpoint.path / STATE_FILE).read_text())
        embeddings = np.load(checkpoint.path / EMBEDDINGS_FILE, allow_pickle=False)
    start = checkpoint.step if checkpoint is not None else 0

    split = evaluation.holdout_split(arrays.users, arrays.items, arrays.order)
    validation = evaluation.holdout_split(arrays.users, arrays.items, arrays.order, keep=split.train)
    items_meta = [{"title": i.title, "category": i.category, "image": i.image, "link": i.link} for i in data.items]
    if start:
        message = f"Resumed from the checkpoint at step {start} of {total}: the finished stages are not redone."
    else:
        message = (
            f"Training the recommender on the CPU: {len(arrays.users):,} interactions of {len(arrays.user_ids):,} "
            f"users with {len(arrays.item_ids):,} catalog items. Held out for the report: the latest interactions "
            f"of {len(split.held_out):,} users."
        )
    for warning in data.warnings:
        message += " " + warning
    reporter = ProgressReporter.started_run(
        run_id=run.pk, worker=worker, train_examples=len(split.train),
        validation_examples=int(sum(len(v) for v in split.held_out.values())), total_steps=total, device="cpu",
        start_step=start, message=message, shutdown=shutdown, lease_lost=lease_lost,
    )
    step = start

    def advance(loss: float) -> None:
        nonlocal step
        step += 1
        try:
            reporter.after_step(step, float(loss), step * len(arrays.users))
        except ShutdownRequested:
            save(stage_step=None)
            raise

    def save(stage_step: int | None) -> None:
        """Checkpoint what is finished; on shutdown (``None``) the last finished stage's step."""
        at = stage_step if stage_step is not None else (checkpoint_step[0] or 0)
        if not at:
            return

        def write(folder: Path) -> None:
            (folder / STATE_FILE).write_text(json.dumps(state))
            np.save(folder / EMBEDDINGS_FILE, embeddings, allow_pickle=False)

        write_checkpoint(root, at, write)
        if not services.training_run_checkpoint_record(run_id=run.pk, worker=worker, step=at):
            raise LeaseLost

    checkpoint_step = [start]

    def stage_done(at: int) -> None:
        checkpoint_step[0] = at
        save(stage_step=at)

    def model_from(fitted, matrix, weight: float, positions: np.ndarray, settings: AlsSettings | None = None,
                   blend: evaluation.Blend | None = None, choosing: bool = False) -> Recommender:
        """A model of this fit; with ``blend`` (the chosen recency and item-item share) and, where that share is
        above 0 or the blend is being ``choosing``, implicit's item-item model fitted on the same matrix (an
        unused one would cost every artifact ~16 MB at 100k items); else ALS alone weighing every item alike
        (the settings search)."""
        return Recommender(item_ids=arrays.item_ids, user_ids=arrays.user_ids, item_factors=fitted.item_factors,
                           user_factors=fitted.user_factors, embeddings=embeddings,
                           popularity=arrays.popularity(positions),
                           history=matrix, items=items_meta, weight=weight, settings=settings or als,
                           recency=blend.recency if blend else 1.0,
                           # the settings search weighs every item alike: no ages for its 18 fits
                           history_age=arrays.ages(positions, matrix) if blend else None,
                           neighbours=fit_neighbours(matrix) if blend and (choosing or blend.neighbour_share)
                           else None,
                           neighbour_share=blend.neighbour_share if blend else 0.0)

    def fit(positions: np.ndarray):
        matrix = arrays.matrix(positions)
        return fit_als(matrix, als, callback=lambda _iteration, loss: advance(loss if loss is not None else 0.0)), \
            matrix

    if embeddings is None:
        started = time.monotonic()
        embeddings = embed([item_text(item) for item in data.items], threads=1)
        advance(0.0)
        services.training_run_log(run_id=run.pk, worker=worker, message=(
            f"Read the descriptions of {len(data.items):,} items with MiniLM in {time.monotonic() - started:.1f} s."))
        stage_done(step)

    if "settings" not in state and "weight" in state:  # a checkpoint from before settings were searched
        state |= {"settings": als.__dict__, "settings_grid": []}
    if "settings" not in state:
        searched = arrays.matrix(validation.train)
        chosen, grid = evaluation.choose_settings(
            lambda settings: model_from(fit_als(searched, settings), searched, 0.5, validation.train, settings), als,
            validation.held_out, interactions=len(arrays.users))
        state |= {"settings": chosen.__dict__, "settings_grid": grid}
        if grid:
            services.training_run_log(run_id=run.pk, worker=worker, message=(
                f"ALS settings chosen on the validation slice ({len(grid)} tried): {chosen.factors} factors, "
                f"regularization {chosen.regularization}, alpha {chosen.alpha}."))
    als = AlsSettings(**state["settings"])

    if "weight" not in state:
        fitted, matrix = fit(validation.train)
        blend = evaluation.choose_blend(model_from(fitted, matrix, 0.5, validation.train, blend=evaluation.Blend(),
                                                   choosing=True), validation.held_out)
        weight = blend.weight
        state |= {"weight": weight, "weights": blend.weights, "validation_users": len(validation.held_out),
                  "recency": blend.recency, "neighbour_share": blend.neighbour_share, "blends": blend.tried}
        collaborative = (f"ALS with {blend.neighbour_share:g} of item-item neighbours" if blend.neighbour_share
                         else "ALS")
        recency = (f"each item of a history weighing {blend.recency:g}× the one after it" if blend.recency < 1
                   else "every item of a history weighing alike")
        line = (f"Hybrid weight {weight:.1f} (collaborative filtering: {collaborative}) : {1 - weight:.1f} "
                f"(content), {recency}: the best NDCG@10 on a validation slice of "
                f"{len(validation.held_out)} users carved out before the hold-out."
                if blend.weights else "Too little history for a validation slice: the hybrid weighs both halves "
                "equally.")
        services.training_run_log(run_id=run.pk, worker=worker, message=line)
        stage_done(step)

    if "metrics" not in state:
        fitted, matrix = fit(split.train)
        state["metrics"] = _report(model_from(fitted, matrix, state["weight"], split.train,
                                              blend=_chosen_blend(state)), split, arrays)
        if state["metrics"]:
            hybrid, popular = state["metrics"]["methods"]["hybrid"], state["metrics"]["methods"]["popularity"]
            services.training_run_log(run_id=run.pk, worker=worker, message=(
                f"On the hold-out: NDCG@10 {hybrid['ndcg_at_10']:.3f} for the hybrid, {popular['ndcg_at_10']:.3f} "
                f"for popularity; recall@10 {hybrid['recall_at_10']:.3f} and {popular['recall_at_10']:.3f}."))
        stage_done(step)

    everything = np.arange(len(arrays.users))
    fitted, matrix = fit(everything)
    final = model_from(fitted, matrix, state["weight"], everything, blend=_chosen_blend(state))
    cancel, lost = services.training_run_should_stop(run_id=run.pk, worker=worker)
    if lost or lease_lost.is_set():
        raise LeaseLost
    if cancel:
        raise CancelRequested
    artifact = _save_artifact(final, run_id=run.pk)
    report = None
    if state["metrics"]:
        report = {"examples": state["metrics"]["held_out_users"], "metrics": state["metrics"] | {
            "weights": state["weights"], "validation_users": state["validation_users"], "weight": state["weight"],
            "settings": state["settings"], "settings_grid": state["settings_grid"],
            "recency": state.get("recency", 1.0), "neighbour_share": state.get("neighbour_share", 0.0),
            "blends": state.get("blends", []),
            "warnings": data.warnings, "unknown_item_lines": data.unknown_item_lines[:50]}}
    advance(0.0)
    if lease_lost.is_set() or services.training_run_succeed(
        run_id=run.pk, worker=worker, artifact=artifact, evaluation=report
    ) is None:
        raise LeaseLost
    remove_checkpoints(root)


def _chosen_blend(state: dict[str, Any]) -> evaluation.Blend:
    """The recency and item-item share the validation slice chose (a checkpoint from before: neither)."""
    return evaluation.Blend(state["weight"], state.get("recency", 1.0), state.get("neighbour_share", 0.0))


def _report(model: Recommender, split: evaluation.Split, arrays: Arrays) -> dict[str, Any] | None:
    """EvaluationReport.metrics of a recommender: every method on the hold-out, cold users, example users."""
    if not split.held_out:
        return None
    scored = evaluation.score_methods(model, split.held_out, keep_top=True)
    methods = evaluation.summary(scored, items=len(arrays.item_ids))
    if not model.neighbour_share:
        methods["als"]["name"] = evaluation.ALS_ALONE
    # Cold users: the same people with only their latest two training interactions, served as a short history is.
    cold_history = _truncated(arrays, split.train, 2)
    cold = evaluation.summary(evaluation.score_methods(model, split.held_out, methods=("short", "popularity"),
                                                       histories=cold_history), items=len(arrays.item_ids))
    return {
        "kind": "recommender", "k": evaluation.K, "methods": methods,
        "cold_users": {"served": cold["short"], "popularity": cold["popularity"]},
        "examples": evaluation.example_users(model, split.held_out, scored["hybrid"]["top"]),
        "held_out_users": len(split.held_out),
        "held_out_interactions": int(sum(len(v) for v in split.held_out.values())),
        "train_interactions": int(len(split.train)), "users": len(arrays.user_ids), "items": len(arrays.item_ids),
    }


def _truncated(arrays: Arrays, positions: np.ndarray, keep: int):
    """Each user's training history cut to their ``keep`` latest interactions (a cold start), as a matrix."""
    ranked = positions[np.lexsort((arrays.order[positions], arrays.users[positions]))]
    last = np.r_[arrays.users[ranked][1:] != arrays.users[ranked][:-1], True]
    # Walk back from each user's last row: keep rows within ``keep`` of it.
    from_end = np.zeros(len(ranked), dtype=np.int64)
    count = 0
    for i in range(len(ranked) - 1, -1, -1):
        count = 0 if last[i] else count + 1
        from_end[i] = count
    return arrays.matrix(ranked[from_end < keep])


def _checkpoint_root(run_id: int) -> Path:
    from inference.training.pipeline import checkpoint_root

    return checkpoint_root(run_id)


def _save_artifact(model: Recommender, *, run_id: int) -> dict[str, Any]:
    """Write the artifact folder atomically under MEDIA_ROOT; the ModelArtifact fields."""
    relative, files = artifact_folder_write(media_root=Path(settings.MEDIA_ROOT), run_id=run_id, write=model.save)
    arrays = next(f for f in files if f["name"] == ARRAYS_FILE)
    return {
        "kind": ModelArtifact.Kind.RECOMMENDER, "path": relative, "sha256": arrays["sha256"],
        "size_bytes": sum(f["size"] for f in files), "files": files,
        "metadata": {"items": len(model.item_ids), "users": len(model.user_ids), "weight": model.weight,
                     "factors": model.settings.factors},
    }
