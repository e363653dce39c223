"""The bundled all-MiniLM-L6-v2 through sentence-transformers: one model per process, normalised vectors.

Loaded on first use (torch comes with it), never at import, so the web tier and ``manage.py check`` stay
light. The same model serves the index build (batches of chunks) and the answer runner (one question), from
different threads; a lock keeps encodes one at a time (a 22M-parameter model: each takes milliseconds).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

DIMENSIONS = 384
BATCH_SIZE = 64

_model = None
_model_dir: str | None = None
_lock = threading.Lock()


def _load(models_dir: str):
    global _model, _model_dir
    if _model is None or _model_dir != models_dir:
        from sentence_transformers import SentenceTransformer

        from inference.registry import EMBEDDING_MODEL_ID, model_path

        path = model_path(Path(models_dir), EMBEDDING_MODEL_ID)
        # Always the CPU: the encoder is tiny, and a GPU is the language model's and the trainer's.
        _model, _model_dir = SentenceTransformer(str(path), device="cpu", local_files_only=True), models_dir
    return _model


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
    with _lock:
        model = _load(str(models_dir))
        with torch_threads(threads):
            vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


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
