"""The llama.cpp backend: llama-cpp-python's low-level batch API, driven by our scheduler.

One `llama_batch` per decode step holds one token per live sequence, each under its own
`seq_id`; `llama_decode` runs them together and `llama_memory_seq_rm` frees a sequence's cache
the moment it leaves. The high-level `Llama` object is not used: it serves one request at a time.

- One model in memory per GGUF file for the whole process; each (model, adapter) pair gets its
  own context (llama.cpp applies LoRA adapters per context). Contexts of one model decode in
  turn, one step each, behind the model's lock, so versions with different adapters share the
  cores fairly instead of oversubscribing them.
- Each context has `max_rows` slots with a fixed context each (`slot_context` tokens, a split
  KV cache), quantised to q8_0 by default (half the memory of f16, needs flash attention).
- Tokenising, detokenising, stop strings and finish reasons are the torch backend's
  (inference/engines/sequence.py with the model's Hugging Face tokenizer), so both backends see
  the same prompt ids and end a request the same way.

`python -m inference.engines.llamacpp --smoke` decodes one token in a fresh process: a broken
build (one compiled for another CPU segfaults inside llama_decode) cannot take the server down.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.engines.base import GenerationParams, GenerationRequest, PromptTooLong
from inference.engines.sequence import SequenceState, encode_chat
from inference.engines.turns import TurnLock

logger = logging.getLogger(__name__)

KV_TYPES = {"f16": 1, "q8_0": 8}  # GGML_TYPE_F16, GGML_TYPE_Q8_0
PREFILL_CHUNK = 512  # prompt tokens per llama_decode call (the context's n_batch)

_models: dict[str, _Model] = {}
_models_lock = threading.Lock()
_backend_ready = False


def import_llama_cpp() -> Any:
    """The llama_cpp module; raises ImportError with the fix when it is not installed."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise ImportError(
            "llama-cpp-python is not installed; `python -m studio` builds it, or set STUDIO_ENGINE=torch."
        ) from exc
    return llama_cpp


@dataclass(eq=False)
class _Model:
    """One GGUF model loaded once per process, shared by every context (adapter) that uses it."""

    path: str
    handle: Any
    n_vocab: int
    decode_lock: TurnLock = field(default_factory=TurnLock)  # contexts' steps in arrival order
    adapters: dict[str, Any] = field(default_factory=dict)

    def adapter(self, gguf_path: str | Path) -> Any:
        """A LoRA adapter in GGUF for this model, loaded once."""
        llama = import_llama_cpp()
        key = str(Path(gguf_path).resolve())
        with _models_lock:
            if key not in self.adapters:
                adapter = llama.llama_adapter_lora_init(self.handle, key.encode())
                if not adapter:
                    raise RuntimeError(f"llama.cpp could not load the adapter {key}; re-export it from the run.")
                self.adapters[key] = adapter
            return self.adapters[key]


_log_callback: Any = None


def quiet_logs() -> None:
    """Send llama.cpp's own chatter (hundreds of lines per model load) to our debug log."""
    global _log_callback
    llama = import_llama_cpp()
    if _log_callback is None:

        def forward(_level: int, text: bytes, _user_data: Any) -> None:
            logger.debug("llama.cpp: %s", text.decode(errors="replace").rstrip())

        _log_callback = llama.llama_log_callback(forward)  # kept referenced: C holds the pointer
        llama.llama_log_set(_log_callback, ctypes.c_void_p(0))


def load_model(gguf_path: str | Path) -> _Model:
    """The process-wide model for a GGUF file, loaded on first use."""
    global _backend_ready
    llama = import_llama_cpp()
    key = str(Path(gguf_path).resolve())
    with _models_lock:
        if key not in _models:
            if not _backend_ready:
                quiet_logs()
                llama.llama_backend_init()
                _backend_ready = True
            params = llama.llama_model_default_params()
            handle = llama.llama_model_load_from_file(key.encode(), params)
            if not handle:
                raise RuntimeError(f"llama.cpp could not load {key}; is it a GGUF model file?")
            vocab = llama.llama_model_get_vocab(handle)
            _models[key] = _Model(key, handle, llama.llama_vocab_n_tokens(vocab))
        return _models[key]


class LlamaCppEngine:
    """Implements `BatchEngine` with llama.cpp on the CPU."""

    backend = "llamacpp"

    def __init__(
        self,
        gguf_path: str | Path,
        tokenizer_dir: str | Path,
        *,
        adapter_gguf: str | Path | None = None,
        threads: int = 1,
        slot_context: int = 2048,
        kv_type: str = "q8_0",
    ) -> None:
        if kv_type not in KV_TYPES:
            raise ValueError(f"Unknown KV cache type {kv_type!r}; use one of {', '.join(KV_TYPES)}.")
        self.gguf_path = Path(gguf_path)
        self.tokenizer_dir = Path(tokenizer_dir)
        self.adapter_gguf = Path(adapter_gguf) if adapter_gguf else None
        self.threads = threads
        self.context_length = slot_context
        self.kv_type = kv_type
        self.model = load_model(self.gguf_path)
        if self.adapter_gguf is not None:
            self.model.adapter(self.adapter_gguf)  # fail now, with the path, not at the first request
        from transformers import AutoTokenizer

        # Two tokenizers: the preparation thread encodes while the decode thread detokenises.
        self.tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_dir)
        self._encoder = AutoTokenizer.from_pretrained(self.tokenizer_dir)
        self._encoder_lock = threading.Lock()
        self.eos_token_ids = _eos_ids(self.tokenizer_dir, self.tokenizer)

    def encode(self, request: GenerationRequest) -> list[int]:
        with self._encoder_lock:
            return encode_chat(self._encoder, request, self.context_length)

    def prepare(
        self, request: GenerationRequest, cancel: threading.Event | None = None, started_at: float | None = None
    ) -> SequenceState:
        return SequenceState(
            request,
            self.encode(request),
            tokenizer=self.tokenizer,
            eos_token_ids=self.eos_token_ids,
            cancel=cancel,
            started_at=started_at,
        )

    def sampler(self, params: GenerationParams) -> Any:
        from inference.engines.sampling import Sampler

        return Sampler(params, "cpu")

    def new_batch(self, max_rows: int) -> LlamaCppBatch:
        return LlamaCppBatch(self, max_rows)

    def stream(self, request: GenerationRequest, cancel: threading.Event | None = None):
        """One request alone (tests and benchmarks); the scheduler is the serving path."""
        from inference.engines.sequence import stream_alone

        return stream_alone(self, request, cancel)


class LlamaCppBatch:
    """A llama.cpp context with `max_rows` sequence slots; implements `EngineBatch`."""

    def __init__(self, engine: LlamaCppEngine, max_rows: int) -> None:
        llama = import_llama_cpp()
        self._llama = llama
        self.engine = engine
        self.model = engine.model
        self.max_rows = max_rows
        params = llama.llama_context_default_params()
        params.n_ctx = engine.context_length * max_rows
        params.n_seq_max = max_rows
        params.n_batch = max(PREFILL_CHUNK, max_rows)
        params.n_ubatch = max(PREFILL_CHUNK, max_rows)
        params.n_threads = params.n_threads_batch = engine.threads
        params.type_k = params.type_v = KV_TYPES[engine.kv_type]
        # A quantised V cache needs flash attention; with f16 let llama.cpp choose.
        params.flash_attn_type = 1 if engine.kv_type != "f16" else -1
        params.kv_unified = False  # a fixed context per slot: one long request cannot starve others
        params.no_perf = True
        self.ctx = llama.llama_init_from_model(self.model.handle, params)
        if not self.ctx:
            raise RuntimeError(
                f"llama.cpp could not create a context of {max_rows} x {engine.context_length} tokens; "
                "lower STUDIO_INFERENCE_MAX_BATCH or STUDIO_ENGINE_SLOT_CONTEXT."
            )
        if engine.adapter_gguf is not None:
            adapters = (llama.llama_adapter_lora_p_ctypes * 1)(self.model.adapter(engine.adapter_gguf))
            scales = (ctypes.c_float * 1)(1.0)
            if llama.llama_set_adapters_lora(self.ctx, adapters, 1, scales) != 0:
                raise RuntimeError(f"llama.cpp refused the adapter {engine.adapter_gguf}.")
        self.memory = llama.llama_get_memory(self.ctx)
        self.capacity = params.n_batch
        self.batch = llama.llama_batch_init(self.capacity, 0, 1)
        self.items: list[Any] = []
        self._seq: list[int] = []  # seq_id of row i
        self._pos: list[int] = []  # next position of row i
        self._free = list(range(max_rows - 1, -1, -1))
        self._views: dict[tuple[int, int], Any] = {}  # (buffer address, rows) -> view of the logits

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: Any, prompt_ids: Sequence[int]) -> Any:
        if not self._free:
            raise RuntimeError(f"The batch is full ({self.max_rows} rows).")
        if len(prompt_ids) >= self.engine.context_length:
            raise PromptTooLong(len(prompt_ids), self.engine.context_length - 1)
        seq = self._free.pop()
        try:
            for start in range(0, len(prompt_ids), self.capacity):
                chunk = prompt_ids[start : start + self.capacity]
                last = start + len(chunk) == len(prompt_ids)
                self._fill([(token, start + i, seq, last and i == len(chunk) - 1) for i, token in enumerate(chunk)])
                self._decode()
            logits = self._logits(1, copy=True)[0]
        except BaseException:
            self._llama.llama_memory_seq_rm(self.memory, seq, -1, -1)
            self._free.append(seq)
            raise
        self.items.append(item)
        self._seq.append(seq)
        self._pos.append(len(prompt_ids))
        return logits

    def remove(self, item: Any) -> None:
        row = self.items.index(item)
        seq = self._seq[row]
        self._llama.llama_memory_seq_rm(self.memory, seq, -1, -1)
        self._free.append(seq)
        del self.items[row], self._seq[row], self._pos[row]

    def step(self, token_ids: Sequence[int]) -> Any:
        rows = len(self.items)
        if any(pos >= self.engine.context_length for pos in self._pos):
            raise RuntimeError("A sequence filled its context; lower max_new_tokens.")
        self._fill([(token_ids[i], self._pos[i], self._seq[i], True) for i in range(rows)])
        self._decode()
        for i in range(rows):
            self._pos[i] += 1
        # A view, not a copy: the caller samples before the next step overwrites the buffer.
        return self._logits(rows, copy=False)

    def close(self) -> None:
        if self.ctx:
            self._views.clear()
            self._llama.llama_batch_free(self.batch)
            self._llama.llama_free(self.ctx)
            self.ctx = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: the library may be gone
            self.close()

    def _fill(self, tokens: list[tuple[int, int, int, bool]]) -> None:
        batch = self.batch
        for i, (token, pos, seq, wants_logits) in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = wants_logits
        batch.n_tokens = len(tokens)

    def _decode(self) -> None:
        # Contexts of one model take turns, one step each (ctypes releases the GIL meanwhile).
        with self.model.decode_lock:
            code = self._llama.llama_decode(self.ctx, self.batch)
        if code != 0:
            raise RuntimeError(f"llama_decode failed (code {code}); the context may be full.")

    def _logits(self, rows: int, *, copy: bool) -> Any:
        """Logits `[rows, vocab]` of the last decode as a float32 torch tensor on the CPU.

        `copy=False` gives a view of llama.cpp's output buffer (no 200 KB copy per row and step),
        valid until the next decode on this context; `add` copies, its logits may outlive the batch.
        """
        import numpy as np
        import torch

        pointer = self._llama.llama_get_logits(self.ctx)
        key = (ctypes.addressof(pointer.contents), rows)
        if copy or key not in self._views:
            array = np.ctypeslib.as_array(pointer, shape=(rows, self.model.n_vocab))
            if copy:
                return torch.from_numpy(array.copy())
            if len(self._views) > 4 * self.max_rows:  # the buffer moved (llama.cpp reallocated it)
                self._views.clear()
            self._views[key] = torch.from_numpy(array)
        return self._views[key]


def _eos_ids(model_dir: Path, tokenizer: Any) -> frozenset[int]:
    import json

    ids: set[int] = set()
    config = model_dir / "generation_config.json"
    if config.is_file():
        configured = json.loads(config.read_text()).get("eos_token_id")
        if isinstance(configured, int):
            ids.add(configured)
        elif configured:
            ids.update(configured)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return frozenset(ids)


def smoke_test(gguf_path: str | Path, timeout_s: float = 120.0) -> str | None:
    """Decode one token in a child process; None when it works, else why it did not."""
    command = [sys.executable, "-m", "inference.engines.llamacpp", "--smoke", str(gguf_path)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_repo_root(), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return f"the llama.cpp smoke test did not finish in {timeout_s:g} s"
    if done.returncode == 0 and "smoke ok" in done.stdout:
        return None
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
    return f"the llama.cpp smoke test failed ({tail[0]})"


def _repo_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def _smoke(gguf_path: str) -> None:
    llama = import_llama_cpp()
    model = load_model(gguf_path)
    params = llama.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_threads, params.n_threads_batch = 64, 8, 1, 1
    ctx = llama.llama_init_from_model(model.handle, params)
    batch = llama.llama_batch_init(8, 0, 1)
    batch.n_tokens = 1
    batch.token[0], batch.pos[0], batch.n_seq_id[0], batch.seq_id[0][0], batch.logits[0] = 1, 0, 1, 0, 1
    if llama.llama_decode(ctx, batch) != 0:
        raise SystemExit("llama_decode returned an error")
    logits = llama.llama_get_logits_ith(ctx, 0)
    if logits[0] != logits[0]:  # NaN
        raise SystemExit("llama_decode produced NaN logits")
    llama.llama_batch_free(batch)
    llama.llama_free(ctx)
    print("smoke ok", flush=True)


if __name__ == "__main__":
    if len(sys.argv) in (2, 3) and sys.argv[1] == "--smoke":
        from inference.install import bundled_gguf

        quiet_logs()
        _smoke(sys.argv[2] if len(sys.argv) == 3 else str(bundled_gguf("smollm2-135m-instruct")))
    else:
        raise SystemExit("usage: python -m inference.engines.llamacpp --smoke [MODEL.gguf]")
