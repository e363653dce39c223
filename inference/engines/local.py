"""The local transformers engine: loads a model directory (plus an optional LoRA adapter) once
per process and generates with a KV cache, one request per `stream()` call.

The continuous-batching scheduler drives the same pieces (`prepare`, `prefill`,
`new_batch`) for many requests at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.engines.base import (
    GenerationEvent,
    GenerationParams,
    GenerationRequest,
)
from inference.engines.sequence import SequenceState, encode_chat

logger = logging.getLogger(__name__)

_CACHE: dict[tuple[str, str, str | None], LoadedModel] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A model ready for inference and the facts about it the engine needs."""

    model: Any
    tokenizer: Any
    device: Any  # torch.device
    dtype: Any  # torch.dtype
    eos_token_ids: frozenset[int]
    context_length: int
    num_layers: int
    num_kv_heads: int
    head_dim: int


def resolve_device(device: str = "auto") -> str:
    """`auto` means the GPU when there is one, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(
    model_dir: str | Path, device: str = "auto", adapter_dir: str | Path | None = None
) -> LoadedModel:
    """Load (once per process) a causal LM directory, optionally with a LoRA adapter merged in."""
    device = resolve_device(device)
    key = (str(Path(model_dir).resolve()), device, adapter_dir and str(Path(adapter_dir).resolve()))
    with _CACHE_LOCK:
        # Loading under the lock: two requests for a cold model must not load it twice.
        if key not in _CACHE:
            _CACHE[key] = _load(Path(model_dir), device, adapter_dir and Path(adapter_dir))
        return _CACHE[key]


def _load(model_dir: Path, device: str, adapter_dir: Path | None) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(
            f"No model in {model_dir}; run `python -m studio` or `manage.py install_models`."
        )
    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        # Half precision on CPU is slow and less exact; float32 keeps batched == solo outputs.
        dtype = torch.float32
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=dtype, attn_implementation="sdpa", use_safetensors=True
    )
    if adapter_dir is not None:
        model = _merge_adapter(model, adapter_dir)
    model.to(device).eval()
    config = model.config.get_text_config(decoder=True)
    heads = config.num_attention_heads
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        device=torch.device(device),
        dtype=dtype,
        eos_token_ids=_eos_ids(model, tokenizer),
        context_length=int(getattr(config, "max_position_embeddings", 2048)),
        num_layers=config.num_hidden_layers,
        num_kv_heads=getattr(config, "num_key_value_heads", None) or heads,
        head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads,
    )


def _merge_adapter(model: Any, adapter_dir: Path) -> Any:
    # peft falls back to torch.load for adapter_model.bin, which can run code from a
    # user-supplied file: accept safetensors adapters only.
    if not (adapter_dir / "adapter_model.safetensors").is_file():
        raise FileNotFoundError(
            f"No adapter_model.safetensors in {adapter_dir}; adapters are loaded from "
            "safetensors only. Re-export the adapter with `save_pretrained(safe_serialization=True)`."
        )
    from peft import PeftModel

    peft_model = PeftModel.from_pretrained(model, adapter_dir, use_safetensors=True)
    # Merged weights decode as fast as the base model; this copy of the base is ours alone.
    return peft_model.merge_and_unload()


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return frozenset(ids)


class LocalEngine:
    """Generates with a transformers model on this machine (CPU or one GPU)."""

    def __init__(
        self,
        model_dir: str | Path,
        device: str = "auto",
        adapter_dir: str | Path | None = None,
    ) -> None:
        # Resolved here, on the thread that builds the engine: transformers imports its classes lazily,
        # and the scheduler's preparation and decode threads resolving them at once half-import them.
        from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache  # noqa: F401

        self.model_dir = Path(model_dir)
        self.device = device
        self.adapter_dir = Path(adapter_dir) if adapter_dir else None
        self._loaded: LoadedModel | None = None
        self._encoder: Any = None
        self._encoder_lock = threading.Lock()
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> LoadedModel:
        """The model, loaded on first use, once: the scheduler's preparation and decode threads both ask."""
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    self._loaded = load_model(self.model_dir, self.device, self.adapter_dir)
        return self._loaded

    backend = "torch"

    @property
    def threads(self) -> int | None:
        import torch

        return None if self.loaded.device.type == "cuda" else torch.get_num_threads()

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return self.loaded.eos_token_ids

    def encode(self, request: GenerationRequest) -> list[int]:
        """Prompt token ids from the chat template; raises PromptTooLong. Safe on any thread."""
        loaded = self.loaded  # first: two threads importing transformers at once can half-import it
        with self._encoder_lock:
            if self._encoder is None:
                # A tokenizer of its own: encoding on the preparation thread while the decode thread
                # detokenises with the shared one would borrow the same Rust object twice.
                from transformers import AutoTokenizer

                self._encoder = AutoTokenizer.from_pretrained(self.model_dir)
            return encode_chat(self._encoder, request, loaded.context_length)

    def prepare(
        self,
        request: GenerationRequest,
        cancel: threading.Event | None = None,
        started_at: float | None = None,
    ) -> SequenceState:
        """Tokenise the request into a fresh sequence; raises PromptTooLong."""
        return SequenceState(
            request,
            self.encode(request),
            tokenizer=self.loaded.tokenizer,
            eos_token_ids=self.loaded.eos_token_ids,
            cancel=cancel,
            started_at=started_at,
        )

    def sampler(self, params: GenerationParams) -> Any:
        from inference.engines.sampling import Sampler

        return Sampler(params, self.loaded.device)

    def prefill(self, prompt_ids: list[int]) -> tuple[list[tuple[Any, Any]], Any]:
        """Run the prompt; return its per-layer (keys, values) and the last position's logits."""
        import torch
        from transformers import DynamicCache

        loaded = self.loaded
        with torch.inference_mode():
            cache = DynamicCache(config=loaded.model.config)
            input_ids = torch.tensor([prompt_ids], dtype=torch.long, device=loaded.device)
            out = loaded.model(
                input_ids=input_ids, past_key_values=cache, use_cache=True, logits_to_keep=1
            )
            kv = [(layer.keys, layer.values) for layer in cache.layers]
            return kv, out.logits[0, -1, :]

    def new_batch(self, max_rows: int) -> TorchBatch:
        """An empty batch for this model."""
        from inference.engines.batch import DecodeBatch

        loaded = self.loaded
        rows = DecodeBatch(
            num_layers=loaded.num_layers,
            num_kv_heads=loaded.num_kv_heads,
            head_dim=loaded.head_dim,
            dtype=loaded.dtype,
            device=loaded.device,
            max_rows=max_rows,
        )
        return TorchBatch(self, rows)

    def stream(
        self, request: GenerationRequest, cancel: threading.Event | None = None
    ) -> Iterator[GenerationEvent]:
        """Generate for one request: token events, then one GenerationResult."""
        from inference.engines.sequence import stream_alone

        return stream_alone(self, request, cancel)


class TorchBatch:
    """The engine-facing batch of the torch backend: prefill with the model, decode with DecodeBatch."""

    def __init__(self, engine: LocalEngine, rows: Any) -> None:
        self.engine = engine
        self.rows = rows  # DecodeBatch

    @property
    def items(self) -> list[Any]:
        return self.rows.items

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, item: Any, prompt_ids: Sequence[int]) -> Any:
        kv, logits = self.engine.prefill(list(prompt_ids))
        self.rows.add(item, kv)
        return logits

    def remove(self, item: Any) -> None:
        self.rows.remove(item)

    def step(self, token_ids: Sequence[int]) -> Any:
        return self.rows.step(self.engine.loaded.model, token_ids)
