"""The local transformers engine: loads a model directory once per process and generates with a
KV cache, one request per `stream()` call.

One base model in memory for every version of it: a fine-tuned version's LoRA adapter is attached
to the shared base by name (PEFT `load_adapter`), not merged into a copy of its own. Each version
keeps its own scheduler and batch; their forward passes take turns on the shared model (first
come, first served), each one with its own adapter active or, for the base, adapters disabled. So
N versions decoding at once share the model's steps about equally, one adapter per step.

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
from inference.engines.turns import TurnLock

logger = logging.getLogger(__name__)

_CACHE: dict[tuple[str, str], SharedModel] = {}
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


def shared_model(model_dir: str | Path, device: str = "auto") -> SharedModel:
    """The one copy (per process and device) of a base model, shared by all its versions."""
    device = resolve_device(device)
    key = (str(Path(model_dir).resolve()), device)
    with _CACHE_LOCK:
        # Loading under the lock: two requests for a cold model must not load it twice.
        if key not in _CACHE:
            _CACHE[key] = SharedModel(_load(Path(model_dir), device))
        return _CACHE[key]


def load_model(model_dir: str | Path, device: str = "auto") -> LoadedModel:
    """Load (once per process) a causal LM directory; adapters attach to it by name (SharedModel)."""
    return shared_model(model_dir, device).loaded


def _load(model_dir: Path, device: str) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"No model in {model_dir}; run `python -m studio` or `manage.py install_models`.")
    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        # Half precision on CPU is slow and less exact; float32 keeps batched == solo outputs.
        dtype = torch.float32
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=dtype, attn_implementation="sdpa", use_safetensors=True
    )
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


class SharedModel:
    """A base model plus the LoRA adapters attached to it by name; forward passes take turns."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.turns = TurnLock()
        self._peft: Any = None  # the PeftModel wrapping `loaded.model`, once an adapter is attached
        self._names: dict[str, str] = {}  # resolved adapter folder -> adapter name
        self._active: str | None = None  # the adapter the next forward uses; None: the base alone
        self._layers: list[Any] = []  # the LoRA layers, found once per attach
        self._wrapped_modules = False  # an adapter also replaces whole modules (modules_to_save)

    def attach(self, adapter_dir: str | Path) -> str:
        """Load a PEFT LoRA adapter folder once; return the name forward() knows it by."""
        adapter_dir = Path(adapter_dir)
        key = str(adapter_dir.resolve())
        # peft falls back to torch.load for adapter_model.bin, which can run code from a
        # user-supplied file: accept safetensors adapters only.
        if not (adapter_dir / "adapter_model.safetensors").is_file():
            raise FileNotFoundError(
                f"No adapter_model.safetensors in {adapter_dir}; adapters are loaded from "
                "safetensors only. Re-export the adapter with `save_pretrained(safe_serialization=True)`."
            )
        with self.turns:  # injecting LoRA layers while another version decodes would corrupt its step
            if key not in self._names:
                name = f"version_{len(self._names)}"
                if self._peft is None:
                    from peft import PeftModel

                    self._peft = PeftModel.from_pretrained(
                        self.loaded.model, adapter_dir, adapter_name=name, use_safetensors=True
                    )
                else:
                    self._peft.load_adapter(adapter_dir, adapter_name=name, use_safetensors=True)
                self._peft.to(self.loaded.device).eval()
                self._names[key] = name
                self._index_layers(name)
                # PEFT just activated an adapter of its own choice: back to the base until a step asks.
                self._peft.base_model.disable_adapter_layers()
                self._active = None
            return self._names[key]

    def _index_layers(self, name: str) -> None:
        from peft.tuners.tuners_utils import BaseTunerLayer

        self._layers = [m for m in self.loaded.model.modules() if isinstance(m, BaseTunerLayer)]
        config = self._peft.peft_config[name]
        if getattr(config, "modules_to_save", None) or getattr(config, "trainable_token_indices", None):
            self._wrapped_modules = True

    def _switch(self, adapter: str | None) -> None:
        if self._wrapped_modules:
            # Whole-module copies switch only through PEFT's own walk of the model.
            lora = self._peft.base_model
            if adapter is None:
                lora.disable_adapter_layers()
            else:
                lora.enable_adapter_layers()
                lora.set_adapter(adapter, inference_mode=True)
            return
        # PEFT's set_adapter walks every module and every adapter's parameters (0.1-0.2 s measured
        # on this machine, longer than a decode step): set the two fields its LoRA layers read.
        for layer in self._layers:
            layer._disable_adapters = adapter is None
            if adapter is not None:
                layer._active_adapter = adapter

    @property
    def adapter_count(self) -> int:
        return len(self._names)

    def forward(self, adapter: str | None, **inputs: Any) -> Any:
        """One forward pass of the base model with `adapter` active (None: every adapter off)."""
        with self.turns:
            if self._peft is not None and adapter != self._active:
                self._switch(adapter)
                self._active = adapter
            return self.loaded.model(**inputs)


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
        self._shared: SharedModel | None = None
        self._adapter_name: str | None = None
        self._encoder: Any = None
        self._encoder_lock = threading.Lock()
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> LoadedModel:
        """The model, loaded on first use, once: the scheduler's preparation and decode threads both ask."""
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    shared = shared_model(self.model_dir, self.device)
                    if self.adapter_dir is not None:
                        self._adapter_name = shared.attach(self.adapter_dir)
                    self._shared, self._loaded = shared, shared.loaded
        return self._loaded

    def forward(self, **inputs: Any) -> Any:
        """The model's forward pass for this version: the shared base with this engine's adapter."""
        self.loaded  # noqa: B018 - loads the base and attaches the adapter on first use
        return self._shared.forward(self._adapter_name, **inputs)

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
            eos_token_ids=self.eos_token_ids,
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
            out = self.forward(input_ids=input_ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
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

    def stream(self, request: GenerationRequest, cancel: threading.Event | None = None) -> Iterator[GenerationEvent]:
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
        return self.rows.step(self.engine.forward, token_ids)
