"""Which engine serves, and one scheduler per (base model, adapter) in this worker process.

`STUDIO_ENGINE=auto` (the default) serves with llama.cpp on the CPU when llama-cpp-python
imports and decodes one token in a child process, else with torch (one log line says why); on a
GPU auto means torch. `llamacpp` insists (a broken install is an error), `torch` never tries it.

Every version of a base model shares one copy of its weights, on both backends. With llama.cpp a
fine-tuned version is the base GGUF plus its LoRA adapter in GGUF, applied to its own context, and
the contexts of one model decode in turn, one step each (inference/engines/llamacpp.py). With torch
the adapter is attached to the one base model by name (PEFT) and the versions' forward passes take
turns, each with its own adapter active (inference/engines/local.py).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from inference.install import bundled_gguf, tokenizer_dir
from inference.model_folder import is_local, resolve
from inference.registry import model_path
from inference.scheduler import Scheduler

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "llamacpp", "torch")

_schedulers: dict[tuple[str, str | None], Scheduler] = {}
_lock = threading.Lock()  # held only for dictionary work, never across a model load
_loading: dict[tuple[str, str | None], threading.Lock] = {}
_choice: EngineChoice | None = None


@dataclass(frozen=True)
class EngineChoice:
    backend: str  # "llamacpp" | "torch"
    reason: str  # why, in words, for the log and the admin status line


def engine_choice() -> EngineChoice:
    """The backend this process serves with, decided once."""
    global _choice
    with _lock:
        if _choice is None:
            _choice = _decide(settings.INFERENCE_ENGINE)
            logger.info("Generation engine: %s (%s).", _choice.backend, _choice.reason)
        return _choice


def _decide(wanted: str) -> EngineChoice:
    if wanted not in BACKENDS:
        raise RuntimeError(f"STUDIO_ENGINE must be one of {', '.join(BACKENDS)}, got {wanted!r}.")
    if wanted == "torch":
        return EngineChoice("torch", "STUDIO_ENGINE=torch")
    if wanted == "auto" and _on_gpu():
        return EngineChoice("torch", "a GPU is available")
    problem = llamacpp_problem()
    if problem is None:
        return EngineChoice("llamacpp", f"STUDIO_ENGINE={wanted}, {settings.INFERENCE_ENGINE_THREADS} thread(s)")
    if wanted == "llamacpp":
        raise RuntimeError(f"STUDIO_ENGINE=llamacpp but {problem}.")
    logger.warning("llama.cpp is not usable (%s); serving with the slower torch engine.", problem)
    return EngineChoice("torch", f"llama.cpp unavailable: {problem}")


def llamacpp_problem() -> str | None:
    """None when llama.cpp imports and decodes a token in a child process, else what is wrong."""
    from inference.engines.llamacpp import import_llama_cpp, smoke_test

    try:
        import_llama_cpp()
    except ImportError as exc:
        return str(exc)
    gguf = bundled_gguf("smollm2-135m-instruct")
    return smoke_test(gguf) if gguf else "no bundled GGUF model to test it with"


def _on_gpu() -> bool:
    from inference.engines.local import resolve_device

    return resolve_device(settings.INFERENCE_DEVICE).startswith("cuda")


def build_engine(model_id: str, adapter: str | None, backend: str) -> Any:
    """An engine for a base model and an optional fine-tuned artifact folder."""
    if is_local(model_id):
        return _registered_engine(model_id, adapter, backend)
    base_dir = model_path(Path(settings.MODELS_DIR), model_id)
    gguf = bundled_gguf(model_id)
    if backend == "llamacpp" and gguf is not None:
        from inference.engines.llamacpp import LlamaCppEngine

        return LlamaCppEngine(
            gguf,
            base_dir,
            adapter_gguf=adapter and adapter_gguf(Path(adapter), base_dir),
            threads=settings.INFERENCE_ENGINE_THREADS,
            slot_context=settings.INFERENCE_SLOT_CONTEXT,
            kv_type=settings.INFERENCE_KV_TYPE,
        )
    from inference.engines.local import LocalEngine

    return LocalEngine(base_dir, device=settings.INFERENCE_DEVICE, adapter_dir=adapter)


def _registered_engine(model_id: str, adapter: str | None, backend: str) -> Any:
    """A model the operator put in the models folder: a GGUF on llama.cpp, a Hugging Face folder on torch."""
    candidate, path = resolve(Path(settings.MODELS_DIR), model_id)
    if candidate.format == "hf":
        from inference.engines.local import LocalEngine

        return LocalEngine(path, device=settings.INFERENCE_DEVICE, adapter_dir=adapter)
    if backend != "llamacpp":
        raise RuntimeError(f"“{candidate.name}” is a GGUF model, which only the llama.cpp engine serves, and this "
                           f"worker serves with {backend}. The operator sets STUDIO_ENGINE=auto or llamacpp, or an "
                           "admin picks a Hugging Face model for this version.")
    if adapter:
        raise RuntimeError(f"“{candidate.name}” is a GGUF model; fine-tuned adapters need a Hugging Face base model.")
    from inference.engines.llamacpp import LlamaCppEngine

    return LlamaCppEngine(path, tokenizer_dir(Path(settings.MODELS_DIR), model_id),
                          threads=settings.INFERENCE_ENGINE_THREADS, slot_context=settings.INFERENCE_SLOT_CONTEXT,
                          kv_type=settings.INFERENCE_KV_TYPE)


def adapter_gguf(adapter_dir: Path, base_dir: Path) -> Path:
    """The artifact's GGUF adapter; artifacts trained before it was exported get it now, once."""
    import json

    from inference.engines.gguf_export import GGUF_ADAPTER_FILE, export_lora_gguf

    path = adapter_dir / GGUF_ADAPTER_FILE
    if not path.is_file():
        logger.info("Exporting %s for llama.cpp (once).", path)
        export_lora_gguf(adapter_dir, json.loads((base_dir / "config.json").read_text()))
    return path


def scheduler_for(model_id: str, adapter: str | None = None) -> Scheduler:
    """The shared scheduler for a model; requests for the same model share one running batch.

    A model loads under its own lock, never under ``_lock``: the event loop takes ``_lock`` (scheduler_running,
    engine_status), and a load holding it froze the whole worker for as long as the load took — a second request
    arriving meanwhile could not even send its start frame, and the person read "no inference worker is running".
    """
    backend = engine_choice().backend
    key = (model_id, adapter)
    with _lock:
        made = _schedulers.get(key)
        if made is not None:
            return made
        loading = _loading.setdefault(key, threading.Lock())
    with loading:  # one load per model; other requests for it wait here, in their own threads
        with _lock:
            made = _schedulers.get(key)
        if made is None:
            made = Scheduler(
                build_engine(model_id, adapter, backend),
                max_batch_size=settings.INFERENCE_MAX_BATCH,
                queue_wait_s=settings.INFERENCE_QUEUE_WAIT_SECONDS,
            )
            with _lock:
                _schedulers[key] = made
                _loading.pop(key, None)
    return made


def scheduler_running(model_id: str, adapter: str | None = None) -> Scheduler | None:
    """The model's scheduler if it is already made (quick, never waits for a load: fine on an event loop)."""
    with _lock:
        return _schedulers.get((model_id, adapter))


def engine_status() -> dict[str, Any]:
    """One line's worth for admins: backend, threads, slots in use, queue depth, recent tokens/s."""
    with _lock:
        choice, schedulers = _choice, list(_schedulers.values())
    statuses = [s.status() for s in schedulers]
    return {
        "backend": choice.backend if choice else settings.INFERENCE_ENGINE,
        "reason": choice.reason if choice else "no generation yet",
        "threads": statuses[0]["threads"] if statuses else None,
        "models_served": len(statuses),
        "slots": sum(s["slots"] for s in statuses),
        "slots_in_use": sum(s["slots_in_use"] for s in statuses),
        "queue_depth": sum(s["queue_depth"] for s in statuses),
        "recent_tokens_per_s": round(sum(s["recent_tokens_per_s"] for s in statuses), 1),
    }


def shutdown_all() -> None:
    with _lock:
        for scheduler in _schedulers.values():
            scheduler.shutdown()
        _schedulers.clear()
