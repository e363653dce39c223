"""The training worker on the real SmolLM2 (a dozen examples, a few CPU steps): live progress over the run's
websocket, the adapter it ships, cancelling, a dataset with too few usable rows, and a worker killed mid-run."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import threading
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection

from inference.engines.base import GenerationParams, GenerationRequest, GenerationResult
from inference.engines.local import LocalEngine
from inference.models import ModelArtifact, TrainingRun
from inference.protocol import InferenceRequest
from inference.registry import DEFAULT_MODEL_ID, model_path
from inference.runners.text import generation_params
from inference.training.artifacts import sha256_of
from inference.training.checkpoints import latest_checkpoint
from inference.training.pipeline import checkpoint_root
from inference.training.worker import TrainingWorker
from inference.worker import InferenceWorker
from products.datasets.selectors import dataset_version_examples
from products.generation import generation_request
from products.kinds import get_kind
from products.models import Generation, Product
from products.training.events import bind_event_loop
from products.training.services import product_version_create_from_run, training_run_cancel
from studio.asgi import application
from tests.processes import wait_for
from tests.studio.test_websocket_routing import _session_cookie_for
from tests.training.conftest import ROWS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.model]

INPUTS = {"product": "Maple Spoon", "features": "maple wood, 20 cm", "tone": "friendly"}
GUARD_S = 240  # how long a wait may last before the test gives up on a hung worker (not a measurement)
_wait_for = functools.partial(wait_for, timeout=GUARD_S)


def _greedy_text(engine: LocalEngine, messages: list[dict]) -> str:
    request = GenerationRequest(messages=messages, params=GenerationParams(max_new_tokens=12, temperature=0))
    return next(event for event in engine.stream(request) if isinstance(event, GenerationResult)).text


def _served_greedy_text(prepared: InferenceRequest, adapter: str | None) -> str:
    """Text from the engine the studio serves with (llama.cpp by default), with the request's own generation
    params (the playground's: the kind may add a repetition penalty or a sentence ending), as the worker gets it."""
    from inference.runtime import scheduler_for

    request = GenerationRequest(messages=prepared.messages, params=generation_params(prepared))
    return scheduler_for(prepared.model, adapter).submit(request).result().text


def _run_one_job(worker: TrainingWorker) -> bool:
    try:
        return worker.run_once()
    finally:
        connection.close()  # this thread's own connection, or the test database cannot be dropped


async def _frames_until_finished(communicator: WebsocketCommunicator) -> list[dict]:
    frames = []
    while not frames or frames[-1]["event"] != "finished":
        frames.append(await communicator.receive_json_from(timeout=GUARD_S))
    return frames


async def test_a_run_goes_live_from_queued_to_succeeded_and_its_adapter_changes_what_the_playground_writes(
    make_run, shop
):
    team, owner, product = shop
    run = await database_sync_to_async(make_run)()
    assert (run.status, run.attempts, run.total_steps) == ("queued", 0, 6)
    cookie = await _session_cookie_for(owner)
    communicator = WebsocketCommunicator(application, f"/ws/t/{team.slug}/training/{run.pk}/", headers=[
        (b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie.encode())])
    assert (await communicator.connect())[0]
    snapshot = await communicator.receive_json_from(timeout=10)
    assert (snapshot["event"], snapshot["status"], snapshot["step"], snapshot["points"]) == (
        "snapshot", "queued", 0, [])

    # As in the embedded default: the worker is a plain thread and sends its frames through this loop.
    bind_event_loop(asyncio.get_running_loop())
    try:
        worked = asyncio.create_task(asyncio.to_thread(_run_one_job, TrainingWorker(poll_seconds=1)))
        frames = await _frames_until_finished(communicator)
        assert await worked is True
    finally:
        bind_event_loop(None)
    await communicator.disconnect()

    # Every step saves one progress frame; steps 2, 4 and 6 add a validation point, 2 and 4 a checkpoint.
    assert [(f["event"], f["status"], f["step"]) for f in frames] == [
        ("status", "running", 0), ("status", "running", 0),
        ("progress", "running", 1), ("progress", "running", 2), ("progress", "running", 2), ("status", "running", 2),
        ("progress", "running", 3), ("progress", "running", 4), ("progress", "running", 4), ("status", "running", 4),
        ("progress", "running", 5), ("progress", "running", 6), ("progress", "running", 6), ("status", "running", 6),
        ("finished", "succeeded", 6),
    ]
    assert [f["logs"][0]["message"] for f in frames if f["event"] == "status"][:2] == [
        "Started.", "Training on the CPU: 11 examples, 6 steps, 0% padding."
    ]
    points = [p for f in frames for p in f.get("points", [])]
    assert [(p["split"], p["step"]) for p in points] == [
        ("train", 1), ("train", 2), ("validation", 2), ("train", 3), ("train", 4), ("validation", 4),
        ("train", 5), ("train", 6), ("validation", 6),
    ]
    assert frames[-1]["logs"][0]["message"] == "Finished. The evaluation report is ready."

    base_text, tuned_text = await database_sync_to_async(_check_the_finished_run_and_its_adapter)(run, owner, product)

    # "Create a version with this model" made the tuned model the product's: the playground streams from it.
    inference = asyncio.create_task(InferenceWorker(get_channel_layer()).run())
    try:
        playground = WebsocketCommunicator(application, f"/ws/t/{team.slug}/products/{product.slug}/generate/",
                                           headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"),
                                                    (b"cookie", cookie.encode())])
        assert (await playground.connect())[0]
        await playground.send_json_to({"action": "generate", "inputs": INPUTS,
                                       "settings": {"creativity": 0, "length": 12, "variants": 1}})
        streamed = []
        while not streamed or streamed[-1]["event"] not in ("done", "error"):
            streamed.append(await playground.receive_json_from(timeout=GUARD_S))
        await playground.disconnect()
    finally:
        inference.cancel()
        await asyncio.gather(inference, return_exceptions=True)
    assert [streamed[0]["event"], streamed[-1]["event"]] == ["start", "done"], streamed
    text = streamed[-1]["result"]["text"]  # the final text (a sentence cut by the length limit is dropped)
    assert text.strip() == tuned_text.strip() and text.strip() != base_text.strip(), (text, base_text)
    generation = await database_sync_to_async(Generation.objects.get)(pk=streamed[0]["generation"])
    assert (generation.channel, generation.output) == ("playground", text)


def _check_the_finished_run_and_its_adapter(run: TrainingRun, owner, product: Product) -> tuple[str, str]:
    """Check the run's rows and files, make a version from it; returns greedy (base, tuned) texts of INPUTS."""
    run.refresh_from_db()
    assert (run.status, run.step, run.attempts, run.error, run.device) == ("succeeded", 6, 1, "", "cpu")
    assert list(run.metrics.filter(split="validation").values_list("step", flat=True)) == [2, 4, 6]
    artifact = ModelArtifact.objects.get(run=run)
    weights = artifact.directory / "adapter_model.safetensors"
    assert sha256_of(weights) == artifact.sha256 and artifact.size_bytes > weights.stat().st_size > 0
    # The PEFT folder for torch, and the same adapter in GGUF for llama.cpp, each hashed.
    assert sorted(f["name"] for f in artifact.files) == [
        "adapter_config.json", "adapter_model.gguf", "adapter_model.safetensors"]
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in artifact.files)
    assert not checkpoint_root(run.pk).exists()  # checkpoints go once the artifact is safe
    report = run.evaluation
    assert report.examples == 1 and report.tuned_loss < report.base_loss
    assert [set(sample) for sample in report.samples] == [{"prompt", "base", "tuned", "reference", "passages"}]
    assert report.samples[0]["passages"] == 0  # a copy product has no knowledge base to put in the prompt

    version = product_version_create_from_run(run=run, user=owner)
    product = Product.objects.get(pk=product.pk)
    assert version.fine_tuned_artifact_id == product.fine_tuned_artifact_id == artifact.pk
    prepared = generation_request(kind=get_kind(product.kind), config=product, inputs=INPUTS,
                                  settings={"creativity": 0, "length": 12}).request
    assert prepared.adapter == str(artifact.directory)
    base_dir = model_path(Path(settings.MODELS_DIR), DEFAULT_MODEL_ID)
    base_text = _greedy_text(LocalEngine(base_dir, device="cpu"), prepared.messages)
    tuned_text = _greedy_text(LocalEngine(base_dir, device="cpu", adapter_dir=prepared.adapter), prepared.messages)
    assert tuned_text != base_text, tuned_text  # the adapter changes what torch writes
    # What the playground must stream: the served engine's own base and tuned outputs (llama.cpp reads the GGUF
    # export of the adapter, so its text is not torch's; the adapter must change it all the same).
    served_base = _served_greedy_text(prepared, None)
    served_tuned = _served_greedy_text(prepared, prepared.adapter)
    assert served_tuned != served_base, served_tuned
    return served_base, served_tuned


def test_cancel_stops_a_running_run_within_one_step_and_keeps_no_model(make_run, shop):
    _, owner, _ = shop
    run = make_run(epochs=2)
    worker = threading.Thread(target=_run_one_job, args=(TrainingWorker(poll_seconds=1),))
    worker.start()
    _wait_for(lambda: TrainingRun.objects.get(pk=run.pk).step >= 2, "step 2")
    training_run_cancel(run=run, user=owner)
    step_when_cancelled = TrainingRun.objects.get(pk=run.pk).step
    worker.join()

    run.refresh_from_db()
    assert run.status == "cancelled" and run.finished_at is not None
    assert step_when_cancelled <= run.step <= step_when_cancelled + 1 < run.total_steps
    assert run.log_entries.last().message == f"Stopped at step {run.step} of 12, as asked."
    assert not ModelArtifact.objects.exists() and not checkpoint_root(run.pk).exists()


def test_a_dataset_whose_rows_lack_the_text_to_learn_fails_in_the_worker_with_the_count(make_run, make_dataset_version):
    rows = [(p, f, "" if i % 3 == 0 else d) for i, (p, f, d) in enumerate(ROWS)]  # 4 rows without a description
    run = make_run(make_dataset_version(rows))
    assert TrainingWorker(poll_seconds=1).run_once() is True

    run.refresh_from_db()
    usable = sum(1 for _ in dataset_version_examples(run.dataset_version, split="train"))  # 8 rows or fewer
    assert run.status == "failed" and usable < 10
    assert run.error.startswith(f"This dataset version has {usable} training examples; fine-tuning needs at least 10.")
    assert not ModelArtifact.objects.exists()


def test_a_worker_killed_mid_run_leaves_a_run_another_worker_resumes_from_its_checkpoint(
    make_run, worker_process, settings
):
    run = make_run()
    first = worker_process()
    _wait_for(lambda: first.poll() is not None or TrainingRun.objects.get(pk=run.pk).checkpoint_step >= 2,
              "the first checkpoint")
    assert first.poll() is None, first.stdout.read()
    os.kill(first.pid, signal.SIGKILL)
    first.wait()

    orphan = TrainingRun.objects.get(pk=run.pk)
    on_disk = latest_checkpoint(checkpoint_root(run.pk))
    assert (orphan.status, orphan.attempts) == ("running", 1) and orphan.step < orphan.total_steps
    assert on_disk is not None and 2 <= on_disk.step < orphan.total_steps

    settings.TRAINING_LEASE_SECONDS = 3
    second = TrainingWorker(poll_seconds=1)
    _wait_for(second.run_once, "the expired lease to be swept and the run claimed again")

    run.refresh_from_db()
    assert (run.status, run.attempts, run.step, run.resumed_from_step) == ("succeeded", 2, 6, on_disk.step)
    messages = list(run.log_entries.values_list("message", flat=True))
    step = orphan.checkpoint_step
    assert f"The worker stopped responding; the run is queued again and will resume from step {step}." in messages
    assert f"Resumed from the checkpoint at step {on_disk.step} of 6 on the CPU." in messages
    assert ModelArtifact.objects.filter(run=run).count() == 1
    # Steps after the checkpoint were trained again: the curve holds each step once, none from before it twice.
    assert list(run.metrics.filter(split="train").values_list("step", flat=True)) == [1, 2, 3, 4, 5, 6]
    leftovers = [p.name for p in (Path(settings.MEDIA_ROOT) / "training").rglob("*") if p.name.startswith(".tmp")]
    assert leftovers == [] and not checkpoint_root(run.pk).exists()


def test_a_worker_shutting_down_checkpoints_and_gives_the_run_back_without_using_an_attempt(make_run):
    run = make_run(epochs=2, checkpoint_every=100)
    worker = TrainingWorker(poll_seconds=1)
    thread = threading.Thread(target=_run_one_job, args=(worker,))
    thread.start()
    _wait_for(lambda: TrainingRun.objects.get(pk=run.pk).step >= 1, "step 1")
    worker.shutdown.set()  # what SIGTERM does in `manage.py training_worker`
    thread.join()

    run.refresh_from_db()
    assert (run.status, run.attempts, run.worker) == ("queued", 0, "")
    assert 1 <= run.checkpoint_step == run.step < run.total_steps
    assert latest_checkpoint(checkpoint_root(run.pk)).step == run.step
    assert run.log_entries.last().message == (
        f"The worker is shutting down; the run is queued again and will resume from step {run.step}."
    )
