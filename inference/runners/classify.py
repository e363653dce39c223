"""The classify task: a fine-tuned MiniLM classifier labels texts, many requests per forward pass.

Requests for the same artifact that arrive within ``CLASSIFY_BATCH_WINDOW_S`` (a few milliseconds) are
scored together in one padded forward pass, in a worker thread, so the event loop keeps relaying other
requests' tokens meanwhile; requests that arrive during a pass form the next batch. Loaded classifiers
are kept in a small LRU cache (``CLASSIFY_CACHE_SIZE`` artifacts), in the serving precision
``CLASSIFY_PRECISION`` (bf16 where the machine runs it natively: tests/benchmarks/bench_classifier.py).

The result: ``{"label", "top_label", "probabilities": {label: p}, "unsure"}``, probabilities calibrated by
the run's temperature and summing to 1, most likely first. Below the version's ``unsure_below`` the
label is "unsure" and ``top_label`` keeps the most likely one.

Before any training a request may carry ``zero_shot_labels``: the base language model, through the
generation scheduler, is asked to pick one of them (see ``zero_shot``); its reply is mapped to a label.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from django.conf import settings

from inference.protocol import InferenceRequest, Task
from inference.runners import Result, RunContext, RunnerEvent, empty_usage, runner

UNSURE = "unsure"
#: Texts scored in one forward pass at most; more waiting are scored in the next.
MAX_BATCH_TEXTS = 128


def serving_precision() -> str:
    """The ``CLASSIFY_PRECISION`` setting (auto, fp32, bf16 or int8)."""
    return getattr(settings, "CLASSIFY_PRECISION", "auto")


@functools.lru_cache(maxsize=getattr(settings, "CLASSIFY_CACHE_SIZE", 4))
def load(artifact: str, precision: str):
    """(model, tokenizer, meta, device) of an artifact folder in a serving precision, loaded once per worker (LRU).

    Call it positionally, as ``score`` does, so every caller shares one cache entry per (artifact, precision).
    """
    from inference.engines.local import resolve_device
    from inference.training.classifier.model import for_serving, load_classifier, resolve_precision

    device = resolve_device(settings.INFERENCE_DEVICE)
    model, tokenizer, meta = load_classifier(Path(artifact), device=device)
    return for_serving(model, resolve_precision(precision, device=device)), tokenizer, meta, device


def score(artifact: str, texts: list[str], *, precision: str | None = None) -> tuple[list[str], list[list[float]]]:
    """(labels in head order, calibrated probabilities of each text): one forward pass, off the event loop.

    ``precision`` defaults to the ``CLASSIFY_PRECISION`` setting (the benchmark names one to compare).
    """
    import numpy as np

    from inference.training.classifier.model import encode, logits_of

    model, tokenizer, meta, device = load(artifact, precision or serving_precision())
    ids = encode(tokenizer, texts, max_length=meta.max_length)
    logits = logits_of(model, ids, batch_size=MAX_BATCH_TEXTS, pad_id=tokenizer.pad_token_id or 0,
                       device=device).double().numpy() / meta.temperature
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return meta.labels, probabilities.tolist()


class MicroBatcher:
    """Gathers the texts of requests for one artifact and scores them together."""

    def __init__(self, artifact: str, *, window_s: float) -> None:
        self.artifact, self.window_s = artifact, window_s
        self.loop = asyncio.get_running_loop()
        self.pending: list[tuple[list[str], asyncio.Future]] = []
        self.flusher: asyncio.Task | None = None
        self.passes = 0  # forward passes made (tests and the benchmark read it)

    async def classify(self, texts: list[str]) -> tuple[list[str], list[list[float]]]:
        future = self.loop.create_future()
        self.pending.append((texts, future))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(self.window_s)  # let the requests that arrive together join this pass
        while self.pending:
            batch, taken = [], 0
            while self.pending and (not batch or taken + len(self.pending[0][0]) <= MAX_BATCH_TEXTS):
                texts, future = self.pending.pop(0)
                batch.append((texts, future))
                taken += len(texts)
            texts = [text for request_texts, _ in batch for text in request_texts]
            try:
                labels, probabilities = await asyncio.to_thread(score, self.artifact, texts)
                self.passes += 1
            except Exception as exc:  # every waiting request hears it, in words
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for request_texts, future in batch:
                if not future.done():
                    future.set_result((labels, probabilities[start:start + len(request_texts)]))
                start += len(request_texts)


_batchers: dict[str, MicroBatcher] = {}


def batcher_for(artifact: str) -> MicroBatcher:
    """The artifact's batcher on this event loop (a new loop, as in each test, gets new ones)."""
    batcher = _batchers.get(artifact)
    if batcher is None or batcher.loop is not asyncio.get_running_loop():
        batcher = _batchers[artifact] = MicroBatcher(
            artifact, window_s=getattr(settings, "CLASSIFY_BATCH_WINDOW_S", 0.004))
    return batcher


def label_result(labels: list[str], probabilities: list[float], *, unsure_below: float) -> dict[str, Any]:
    """One text's payload: the label (or "unsure"), the top label, every label's probability, most likely first."""
    ranked = sorted(zip(labels, probabilities, strict=True), key=lambda pair: -pair[1])
    top, confidence = ranked[0]
    unsure = confidence < unsure_below
    return {"label": UNSURE if unsure else top, "top_label": top, "confidence": confidence,
            "probabilities": dict(ranked), "unsure": unsure}


def zero_shot_label(reply: str, labels: list[str]) -> str | None:
    """The label the base model's reply names: the one mentioned first (longest on a tie, so "not spam"
    beats "spam"), whole words, any case; None when it names none."""
    text = " " + " ".join(re.sub(r"[^\w\s]", " ", reply.lower()).split()) + " "
    found = [(text.find(f" {label.lower()} "), -len(label), label) for label in labels]
    named = [entry for entry in found if entry[0] >= 0]
    return min(named)[2] if named else None


async def zero_shot(request: InferenceRequest, context: RunContext) -> AsyncIterator[RunnerEvent]:
    """The base model picks a label (a baseline, no probabilities): its tokens are not streamed, only the label."""
    from inference.runners.text import written

    labels = [str(label) for label in (request.query or {}).get("zero_shot_labels") or []]
    async for event in written(request, context):
        if not isinstance(event, Result):
            continue  # Queued and Token: the person waits for the label, not the model's words
        if event.finish_reason in ("error", "cancelled", "time_limit"):
            yield Result(event.finish_reason, {"label": ""}, event.usage, error=event.error)
            return
        label = zero_shot_label(event.text, labels)
        yield Result("stop", {"label": label or UNSURE, "top_label": label or "", "confidence": None,
                              "probabilities": {}, "unsure": label is None, "zero_shot": True,
                              "reply": event.text.strip()[:200]}, {**event.usage, "finish_reason": "stop"})


@runner(Task.CLASSIFY)
async def classify(request: InferenceRequest, context: RunContext) -> AsyncIterator[RunnerEvent]:
    started = time.monotonic()
    query = request.query or {}
    if query.get("zero_shot_labels") and not request.artifact:
        async for event in zero_shot(request, context):
            yield event
        return
    texts = [str(text) for text in query.get("texts") or []]
    try:
        if not request.artifact:
            raise ValueError("This version has no trained classifier; train one and make a version from the run.")
        if not texts:
            raise ValueError("There is no text to classify.")
        labels, probabilities = await batcher_for(request.artifact).classify(texts)
    except Exception as exc:  # a missing artifact or a broken install must reach the person as words
        yield Result("error", {"label": ""}, empty_usage(duration_s=time.monotonic() - started, finish_reason="error"),
                     error=str(exc))
        return
    unsure_below = float(query.get("unsure_below") or 0.0)
    results = [label_result(labels, row, unsure_below=unsure_below) for row in probabilities]
    payload = results[0] if len(results) == 1 else {"results": results}
    yield Result("stop", payload, empty_usage(duration_s=time.monotonic() - started, finish_reason="stop"))
