"""The comparison worker: claims queued blind comparisons (queue "comparison") and writes both versions' outputs.

Every output goes through the studio's one start path, ``products.generation.generation_start`` (channel
"comparison", the version pinned), and is handed to an inference worker the way the transports hand theirs
(``inference.client.collect``), so every kind and every engine works as it does in the playground. Channels
deliver at most once, so the truth is the Generation row the inference worker records: the worker waits for
that row to be finished or failed, up to settings.COMPARISON_ITEM_TIMEOUT_S, and tries a failed item once
more before giving the pair up with the reason. Each pair's outputs are saved as soon as they exist, so a
worker that dies leaves the comparison to the next one (after its lease runs out), which resumes from the
pairs already written.

The in-memory channel layer of the embedded default only connects coroutines of the server's loop, so the
requests are sent on ``loop`` when one is given (inference/embedded.py passes the server's); a worker in its
own process (``manage.py comparison_worker``, Redis) runs a private loop in a thread of its own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inference.client import collect
from inference.jobs import LeasedJobWorker, job_held, job_release
from products.generation import Actor, GenerationRefused, generation_start
from products.models import Comparison, ComparisonPair, Generation, ProductVersion
from products.services import generation_finish

logger = logging.getLogger(__name__)

Submit = Callable[[Coroutine[Any, Any, Any]], Future]
#: How often the worker looks at the Generation row while it waits.
POLL_S = 0.1
#: After the stream ended, how long the row may take to show how it ended.
SETTLE_GRACE_S = 2.0
NO_PAIR_WRITTEN = "Neither version could answer any of the inputs: {reason}"


class LeaseLost(Exception):
    """Another worker holds the comparison now (this one was presumed dead): stop writing at once."""


def _held(comparison_id: int, worker: str) -> Comparison:
    job = job_held(Comparison, job_id=comparison_id, worker=worker)
    if job is None:
        raise LeaseLost
    return job


def _pair_record(*, comparison_id: int, worker: str, pair: ComparisonPair, side: str,
                 generation: Generation) -> None:
    with transaction.atomic():
        _held(comparison_id, worker)
        setattr(pair, f"output_{side}", generation.result or {"text": generation.output})
        setattr(pair, f"generation_{side}", generation)
        pair.save(update_fields=[f"output_{side}", f"generation_{side}"])


def _pair_done(*, comparison_id: int, worker: str, pair: ComparisonPair, error: str = "") -> None:
    """The pair is finished (both outputs, or given up with ``error``): count it in the progress bar."""
    with transaction.atomic():
        job = _held(comparison_id, worker)
        if error:
            pair.error = error[:2000]
            pair.save(update_fields=["error"])
        job.pairs_done = job.pairs.exclude(error="").count() + job.pairs.filter(
            output_a__isnull=False, output_b__isnull=False).count()
        job.save(update_fields=["pairs_done"])


def _comparison_finish(*, comparison_id: int, worker: str) -> None:
    with transaction.atomic():
        job = _held(comparison_id, worker)
        ready = job.pairs.filter(output_a__isnull=False, output_b__isnull=False).count()
        failed = list(job.pairs.exclude(error="").values_list("error", flat=True)[:1])
        job.status = Comparison.Status.SUCCEEDED if ready else Comparison.Status.FAILED
        if not ready:
            job.error = NO_PAIR_WRITTEN.format(reason=failed[0] if failed else "there were no inputs.")
        job.finished_at, job.worker, job.lease_expires_at = timezone.now(), "", None
        job.save()


def _wait_settled(generation_id: int, future: Future, *, timeout_s: float,
                  stop: Callable[[], bool]) -> Generation | None:
    """The Generation row once it is finished or failed; None when it is still running after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    ended_at: float | None = None
    while True:
        row = Generation.objects.get(pk=generation_id)
        if row.status != Generation.Status.RUNNING:
            return row
        now = time.monotonic()
        if future.done():
            ended_at = ended_at or now
            if now - ended_at > SETTLE_GRACE_S:  # the stream broke (the layer failed) without the row ending
                return None
        if now > deadline or stop():
            return None
        time.sleep(POLL_S)


def _generate(*, comparison: Comparison, version: ProductVersion, inputs: dict[str, Any], submit: Submit,
              timeout_s: float, stop: Callable[[], bool]) -> tuple[Generation | None, str]:
    """One version's output for ``inputs``, tried twice: (the finished Generation, "") or (None, why not)."""
    error = ""
    for _attempt in range(2):
        if stop():
            return None, "stopped"
        try:
            started = generation_start(
                product=comparison.product, version=version.number, channel=Generation.Channel.COMPARISON,
                actor=Actor(user=comparison.created_by), inputs=inputs,
            )
        except GenerationRefused as refused:
            error = f"Version {version.number} refused these inputs: {refused.message}"
            continue
        generation = started.generations[0]
        future = submit(collect(request=started.request, generation_id=generation.pk))
        row = _wait_settled(generation.pk, future, timeout_s=timeout_s, stop=stop)
        if row is not None and row.status == Generation.Status.FINISHED:
            return row, ""
        if row is None:
            future.cancel()  # stops the stream, which tells the inference worker to stop writing
            error = f"Version {version.number} gave no answer within {timeout_s:g} seconds."
            generation_finish(generation_id=generation.pk, output="", finish_reason="error", tokens_in=0,
                              tokens_out=0, time_to_first_token_s=None, duration_s=timeout_s, error=error)
        else:
            error = f"Version {version.number} failed: {row.error or 'the model stopped with an error.'}"
    return None, error


def comparison_produce(*, comparison: Comparison, worker: str, submit: Submit, lease_lost: threading.Event,
                       shutdown: threading.Event, timeout_s: float) -> None:
    """Write both outputs of every pair still missing one, then finish the comparison (worker tier)."""
    stop = lambda: lease_lost.is_set() or shutdown.is_set()  # noqa: E731
    pending = comparison.pairs.filter(error="").exclude(output_a__isnull=False, output_b__isnull=False)
    try:
        for pair in pending.order_by("position"):
            error = ""
            for side, version in (("a", comparison.version_a), ("b", comparison.version_b)):
                if getattr(pair, f"output_{side}") is not None:
                    continue  # written before a restart
                generation, error = _generate(comparison=comparison, version=version, inputs=pair.inputs,
                                              submit=submit, timeout_s=timeout_s, stop=stop)
                if stop():
                    break
                if generation is None:
                    break
                _pair_record(comparison_id=comparison.pk, worker=worker, pair=pair, side=side, generation=generation)
            if lease_lost.is_set():
                return
            if shutdown.is_set():
                job_release(Comparison, job_id=comparison.pk, worker=worker)
                return
            _pair_done(comparison_id=comparison.pk, worker=worker, pair=pair, error=error)
        _comparison_finish(comparison_id=comparison.pk, worker=worker)
    except LeaseLost:
        logger.warning("%s lost comparison %s to another worker; stopping", worker, comparison.pk)


class _LoopThread:
    """A private event loop in a daemon thread, for a worker in its own process (no server loop to borrow)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="comparison-requests", daemon=True).start()


class ComparisonWorker(LeasedJobWorker[Comparison]):
    kind = "comparison"
    model = Comparison

    def __init__(self, *, queues: Sequence[str] = (Comparison.QUEUE,), lease_seconds: float | None = None,
                 poll_seconds: float | None = None, item_timeout_s: float | None = None,
                 loop: asyncio.AbstractEventLoop | None = None, name: str | None = None) -> None:
        super().__init__(
            queues=queues,
            lease_seconds=lease_seconds or settings.INDEX_LEASE_SECONDS,
            poll_seconds=poll_seconds or settings.TRAINING_POLL_SECONDS,
            max_attempts=settings.TRAINING_MAX_ATTEMPTS,
            name=name,
        )
        self.item_timeout_s = item_timeout_s or settings.COMPARISON_ITEM_TIMEOUT_S
        self.loop = loop

    def failure_message(self, job: Comparison) -> str:
        return (f"The comparison worker was lost on each of {job.attempts} attempts; start the comparison again, "
                "and tell your administrator if it keeps happening.")

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> Future:
        """Run ``coroutine`` on the loop that talks to the inference workers."""
        if self.loop is None:
            self.loop = _LoopThread().loop
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, job: Comparison, lease_lost: threading.Event) -> None:
        job = Comparison.objects.select_related("product", "version_a", "version_b", "created_by").get(pk=job.pk)
        comparison_produce(comparison=job, worker=self.name, submit=self.submit, lease_lost=lease_lost,
                           shutdown=self.shutdown, timeout_s=self.item_timeout_s)
