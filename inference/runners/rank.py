"""The rank task: top-k items for a user, a session or an item, each with its reason, from a trained recommender.

The artifact (arrays only: inference/training/recommender/model.py) is loaded once per version and kept in
a small LRU cache; scoring is exact (a big catalog's first pass reads int8 embeddings with an error bound and
rescores in float32 the items that can be shown: model.py), in a worker thread with BLAS pinned to one
thread, so the event loop keeps relaying other requests' tokens and the engine keeps its cores.
The result goes back whole in the ``done`` event (no token stream), unless the version has pitches on: then the
items go out first as a ``sources`` event and the language model's sentences stream after them
(inference/runners/pitch.py). A version pointing at a newer catalog (“Use the new catalog”) gets the same model
with that catalog's new items embedded once and cached. The version's business rules ride in the query and are
applied by the model after scoring, before top-k; a column rule's items are read from the run's catalog once
per worker.

Rankers are keyed by the request's ``model``: "recommender" is the trained one here; a test kind can add
its own with ``@ranker("name")`` instead of a second runner for the task.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from inference.protocol import InferenceRequest, Task
from inference.runners import Result, RunContext, RunnerEvent, Sources, empty_usage, runner
from inference.runners.pitch import pitches

Ranker = Callable[[InferenceRequest], dict[str, Any]]
_RANKERS: dict[str, Ranker] = {}


def ranker(model: str) -> Callable[[Ranker], Ranker]:
    """Decorator: ``fn(request) -> payload`` ranks every rank request whose ``model`` is ``model``."""

    def register(fn: Ranker) -> Ranker:
        _RANKERS[model] = fn
        return fn

    return register


@functools.lru_cache(maxsize=getattr(settings, "RECOMMENDER_CACHE_SIZE", 4))
def load(artifact: str):
    """The artifact folder's Recommender, loaded once per worker (LRU)."""
    from inference.training.recommender.model import Recommender, pin_blas_threads

    pin_blas_threads()
    return Recommender.load(Path(artifact))


@functools.lru_cache(maxsize=getattr(settings, "RECOMMENDER_CACHE_SIZE", 4))
def load_for_catalog(artifact: str, catalog_version: int):
    """The artifact's Recommender serving a newer catalog version, built once per (artifact, catalog version):
    the items it was not trained on are embedded with MiniLM here, on one thread, and kept with it."""
    from inference.knowledge.embedder import embed
    from products.recommendations.data import item_text
    from products.recommendations.selectors import catalog_version_items

    model = load(artifact)
    items = catalog_version_items(version_id=catalog_version)
    new = [item for item in items if model.item_index(item.id) is None]
    vectors = embed([item_text(item) for item in new], threads=1)
    cards = [{"title": i.title, "category": i.category, "image": i.image, "link": i.link} for i in items]
    return model.with_catalog([item.id for item in items], cards, vectors)


@functools.lru_cache(maxsize=64)
def excluded_where(run_id: int, column: str, value: str) -> tuple[str, ...]:
    """Ids a column rule leaves out of the catalog run ``run_id`` used, read once per worker (it never changes)."""
    from products.recommendations.rules import catalog_for_run, catalog_ids_where

    catalog = catalog_for_run(run_id=run_id)
    if catalog is None:
        raise ValueError("This version's model names no catalog, so its rule “never recommend where …” cannot be "
                         "applied; train the recommender again and make a version from the run.")
    return tuple(catalog_ids_where(catalog=catalog, column=column, value=value))


@ranker("recommender")
def recommend(request: InferenceRequest) -> dict[str, Any]:
    if not request.artifact:
        raise ValueError("This version has no trained recommender; train one and make a version from the run.")
    query = request.query or {}
    catalog = query.get("catalog_version")
    model = load_for_catalog(request.artifact, int(catalog)) if catalog else load(request.artifact)
    exclude = list(query.get("exclude") or ())
    where = query.get("exclude_where")
    if where:
        exclude += excluded_where(int(where["run"]), str(where["column"]), str(where["value"]))
    rules = model.rules(exclude_ids=exclude, category=str(query.get("category") or ""),
                        boost_ids=query.get("boost") or (), pin_ids=query.get("pin") or ())
    return model.recommend(query, k=int(query.get("k") or 10), rules=rules)


@runner(Task.RANK)
async def rank(request: InferenceRequest, context: RunContext) -> AsyncIterator[RunnerEvent]:
    started = time.monotonic()
    try:
        fn = _RANKERS.get(request.model)
        if fn is None:
            raise ValueError(f"This inference worker cannot rank with {request.model!r}.")
        payload = await asyncio.to_thread(fn, request)
    except Exception as exc:  # a missing artifact or a broken install must reach the person as words
        yield Result("error", {"items": []}, empty_usage(duration_s=time.monotonic() - started,
                                                         finish_reason="error"), error=str(exc))
        return
    if not (request.query or {}).get("pitch") or not payload.get("items"):
        yield Result("stop", payload, empty_usage(duration_s=time.monotonic() - started, finish_reason="stop"))
        return
    yield Sources(payload["items"])  # the list is drawn now: the ranking never waits for the language model
    async for event in pitches(request, payload, context, started):
        yield event
