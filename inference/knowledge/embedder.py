"""The bundled all-MiniLM-L6-v2: one model per process, normalised vectors, sentence-transformers' maths.

Loaded on first use (torch comes with it), never at import, so the web tier and ``manage.py check`` stay
light. The same model serves the index build (batches of chunks) and the answer runner (one question), from
different threads; a lock keeps encodes one at a time (a 22M-parameter model: each takes milliseconds).

sentence-transformers loads the weights and the tokenizer, but an encode does not go through its
``encode()``: its model is BERT → mean over the attention mask → L2 normalise (modules.json), and that maths
runs here as a frozen TorchScript trace. A question then takes ~6 ms on one thread instead of ~9 ms (the
trace drops the Python of transformers' modules and sentence-transformers' feature plumbing), and the
vectors are the library's own to ~1e-7 for single and padded batches (tests/inference/test_knowledge_embedder.py
checks 1e-5 against ``SentenceTransformer.encode``). Queries and index builds use this one path, and batches
are ordered by length as the library orders them, so the padding a text sees is the same too.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

DIMENSIONS = 384
BATCH_SIZE = 64
#: Calls of up to this many texts (a question, a follow-up with its turns) run TorchScript's optimising executor.
OPTIMISED_UP_TO = 8

logger = logging.getLogger(__name__)

_encoder: _Encoder | None = None
_model_dir: str | None = None
_lock = threading.Lock()


class _Encoder:
    """The tokenizer and the traced BERT + pooling + normalisation of a loaded SentenceTransformer."""

    def __init__(self, model) -> None:
        import torch

        transformer, pooling = model[0], model[1]
        if getattr(pooling, "pooling_mode", "mean") != "mean" or len(model) != 3:
            raise ValueError(f"The embedding model is not BERT + mean pooling + normalise: {model}")
        self.tokenizer, self.max_length = transformer.tokenizer, model.max_seq_length
        module = _mean_pooled(transformer.auto_model.eval())
        example = self.features(["a short text", "a somewhat longer text, so that the batch is padded"])
        try:
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")  # the tracer's notes on shape checks and torch.jit's deprecation
                self.module = torch.jit.freeze(torch.jit.trace(module, example))
        except Exception:  # a torch or transformers that cannot trace: the same maths, eagerly (~25 % slower)
            logger.warning("MiniLM could not be traced; encoding eagerly", exc_info=True)
            self.module = module

    def features(self, texts: list[str]):
        """input_ids and attention_mask as sentence-transformers makes them (pad to the longest, cut at 256)."""
        found = self.tokenizer(texts, padding=True, truncation="longest_first", max_length=self.max_length,
                               return_tensors="pt")
        return found["input_ids"], found["attention_mask"]

    def __call__(self, texts: list[str]) -> np.ndarray:
        import torch

        # TorchScript's optimising executor re-specialises the graph for each new input shape: worth it for a
        # question (~15 % faster than without), but on index-build batches of 64 x up to 256 tokens its kept
        # specialisations doubled the process's peak RSS (1.0 -> 2.0 GB on 464 SQuAD paragraphs) for no speed.
        with torch.inference_mode(), torch.jit.optimized_execution(len(texts) <= OPTIMISED_UP_TO):
            return self.module(*self.features(texts)).numpy()


def _mean_pooled(bert):
    """sentence-transformers' Pooling(mean) and Normalize after BERT, as one module to trace."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return MeanPooled().eval()


def _load(models_dir: str) -> _Encoder:
    global _encoder, _model_dir
    if _encoder is None or _model_dir != models_dir:
        from sentence_transformers import SentenceTransformer

        from inference.registry import EMBEDDING_MODEL_ID, model_path

        path = model_path(Path(models_dir), EMBEDDING_MODEL_ID)
        # Always the CPU: the encoder is tiny, and a GPU is the language model's and the trainer's.
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        _encoder, _model_dir = _Encoder(model), models_dir
    return _encoder


def embed(texts: list[str], *, models_dir: str | Path | None = None, batch_size: int = BATCH_SIZE,
          threads: int | None = None) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text (cosine similarity is then a dot product).

    ``threads`` caps torch's CPU threads for this call, in the calling thread only (torch's OpenMP setting is
    per thread): a question of a few dozen tokens takes ~15 ms on one thread, while torch's default threads
    spin against the decode threads on shared cores (500 ms p50 measured, tests/benchmarks/bench_retrieval.py).
    """
    if models_dir is None:
        from django.conf import settings

        models_dir = settings.MODELS_DIR
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    with _lock, torch_threads(threads):
        encoder = _load(str(models_dir))
        # Longest first, as sentence-transformers batches (its encode sorts by -len(text)): same padding.
        order = np.argsort([-len(text) for text in texts])
        vectors = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            vectors[rows] = encoder([texts[i] for i in rows])
    return vectors


_process_threads: int | None = None  # torch's thread count as the process started, what every block restores


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's CPU threads capped at ``threads`` (None: unchanged) for the block.

    The block restores the process's own count, not the one it found: searches and encodes run in several
    threads, and two blocks overlapping would otherwise leave the count at 1 for every later torch call.
    """
    import torch

    global _process_threads
    if _process_threads is None:
        _process_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads:
            torch.set_num_threads(_process_threads)


def to_bytes(vector: np.ndarray) -> bytes:
    """How a chunk's embedding is stored: float16, little-endian (half the bytes; cosine moves by ~1e-3)."""
    return np.asarray(vector, dtype="<f2").tobytes()


def from_bytes(blobs: list[bytes], dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Stored embeddings back as a (writable) matrix of ``dtype``, one row per blob; float16 is them as stored."""
    if not blobs:
        return np.zeros((0, DIMENSIONS), dtype=dtype)
    return np.frombuffer(b"".join(bytes(b) for b in blobs), dtype="<f2").reshape(len(blobs), -1).astype(dtype)
