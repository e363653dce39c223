"""Blind-comparison test helpers: a product with two versions that write differently, inputs, a worker loop.

The two versions differ in their instructions only; the scripted runner (tests/fakes.py) answers "Plain …"
for version A's and "Bold …" for version B's, so a test can tell the outputs apart without a model.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from channels.layers import get_channel_layer

from inference.protocol import InferenceRequest, Task
from inference.worker import InferenceWorker
from products.models import Generation
from products.services import generation_create, product_create, product_draft_update, product_version_create
from tests.fakes import scripted_runner

PLAIN, BOLD = "Write plainly and calmly.", "Write boldly, with energy!"
FEATURES = ["350 ml stoneware", "solid birch, reversible", "1 litre, gooseneck", "washed linen, set of 3",
            "solid oak, 45 cm", "merino, 130 x 170 cm"]


def version_tokens(request: InferenceRequest) -> tuple[str, ...]:
    """What the scripted runner writes: the version's voice, then the first fact it was given."""
    system = next((m["content"] for m in request.messages or [] if m["role"] == "system"), "")
    user = next((m["content"] for m in reversed(request.messages or []) if m["role"] == "user"), "")
    fact = next((line.strip() for line in user.splitlines() if line.strip() in FEATURES), "it")
    if "Broken" in user:
        raise RuntimeError("the scripted engine broke on purpose")
    return ("Bold" if system == BOLD else "Plain", " copy", f" about {fact}.")


def two_version_product(team, owner, *, notes: tuple[str, str] = ("", ""), extra_versions: int = 0):
    """A copywriting product whose version A writes plainly and version B boldly; (product, a, b).

    ``extra_versions`` saves more versions first, so A and B have numbers a test can look for.
    """
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="product-description")
    for _ in range(extra_versions):
        product_version_create(product=product, user=owner)
    settings = {"creativity": 0, "length": 12, "variants": 1}
    product_draft_update(product=product, system_prompt=PLAIN, prompt_template=product.prompt_template,
                         settings=settings)
    version_a = product_version_create(product=product, user=owner, note=notes[0])
    product_draft_update(product=product, system_prompt=BOLD, prompt_template=product.prompt_template,
                         settings=settings)
    version_b = product_version_create(product=product, user=owner, note=notes[1])
    return product, version_a, version_b


def recent_inputs(product, owner, count: int = 5, *, features: list[str] | None = None) -> list[dict]:
    """``count`` finished playground generations with distinct inputs: what "recent real inputs" reads."""
    features = features or [FEATURES[n % len(FEATURES)] for n in range(count)]
    inputs = [{"product": f"Item {n}", "features": text} for n, text in enumerate(features)]
    for values in inputs:
        generation = generation_create(product=product, version=None, channel=Generation.Channel.PLAYGROUND,
                                       user=owner, inputs=values)
        Generation.objects.filter(pk=generation.pk).update(status=Generation.Status.FINISHED, output="x")
    return inputs


@contextlib.contextmanager
def inference_loop(runner=None) -> Iterator[tuple[asyncio.AbstractEventLoop, object]]:
    """An event loop in a thread serving a real InferenceWorker with a scripted generate runner (``False``: none).

    It stands for the server's loop of the embedded default: the comparison worker sends its requests on it,
    so the test passes on the in-memory channel layer as well as on Redis.
    """
    if runner is None:
        runner = scripted_runner(version_tokens, delay_s=0.01)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-inference-loop", daemon=True)
    thread.start()

    async def serve() -> None:
        await InferenceWorker(get_channel_layer(), runners={Task.GENERATE: runner}).run()

    served = asyncio.run_coroutine_threadsafe(serve(), loop) if runner is not False else None
    try:
        yield loop, runner
    finally:
        if served is not None:
            served.cancel()

        async def drain() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def ready_comparison(product, version_a, version_b, owner, *, size: int = 5):
    """A comparison whose pairs are written, as the worker leaves them (outputs set without running it)."""
    from products.comparisons.services import comparison_create
    from products.models import Comparison

    recent_inputs(product, owner, count=size)
    comparison = comparison_create(product=product, version_a=version_a, version_b=version_b,
                                   source=Comparison.Source.RECENT, size=size, user=owner)
    for pair in comparison.pairs.all():
        fact = pair.inputs["features"]
        pair.output_a, pair.output_b = {"text": f"Plain copy about {fact}."}, {"text": f"Bold copy about {fact}."}
        pair.save()
    Comparison.objects.filter(pk=comparison.pk).update(status=Comparison.Status.SUCCEEDED, pairs_done=size)
    comparison.refresh_from_db()
    return comparison
