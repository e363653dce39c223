"""The recommender a run trains and the rank runner serves: implicit's ALS, MiniLM item embeddings, popularity.

A ``Recommender`` holds arrays only (item and user factors, item embeddings, popularity, the users'
histories as a sparse matrix, id maps) and is saved as one ``.npz`` read with ``allow_pickle=False`` plus a
JSON file of item titles and settings. Every score a person sees is min-max scaled to 0–1 per request,
and the hybrid is ``weight × ALS + (1 − weight) × content``, the weight chosen on a validation slice. The
content part's profile of a user weighs each item ``recency ** age`` (age 0 for the latest choice, 1 for the one
before, …; ``history_age`` keeps each user's ages beside the history), ``recency`` chosen on the same slice: what
someone chose last says most about what they choose next (1.0: every item alike). The collaborative part is
ALS's, or ``(1 − neighbour_share) × ALS + neighbour_share × neighbours`` when the trainer chose a share of
implicit's item-item cosine model (``neighbours``: each item's ``NEIGHBOURS`` nearest items, a sparse matrix,
scoring a user's history weighted the same way; its reasons are "Because you liked X" for the item that gave most).

Paths, in the order tried: a user (or session) with at least ``MIN_HISTORY`` known items gets the hybrid
with reasons from ALS's ``explain`` ("Because you liked X") or the nearest item it chose ("Similar to Y");
one or two items get content similarity blended with popularity, saying so; nobody known gets popularity.

A catalog of ``QUANTIZED_FROM`` items or more reads its content scores off an int8 copy of the embeddings with a
bound per item on the error, and scores again in float32 the few items that can be shown (or be the lowest or
highest score, which the 0–1 scaling needs): the answers are the float32 ones for a quarter of the bytes. That
pass is torch's weight-only int8 kernel where it is usable and faster (``QuantizedEmbeddings.bounded_scores``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

logger = logging.getLogger(__name__)

ARRAYS_FILE = "recommender.npz"
META_FILE = "recommender.json"
#: Fewer known items than this in a history and collaborative filtering knows too little: content + popularity.
MIN_HISTORY = 3
#: Share of popularity in the content + popularity blend of a short history.
SHORT_HISTORY_POPULARITY = 0.3
#: Neighbours kept per item by the item-item model (implicit's ``K``): its matrix has at most this many per row.
NEIGHBOURS = 20

COLD_USER = ("We have no history for this customer yet, so these are the items most people chose. "
             "Recommendations become personal after a few purchases or views.")
SHORT_HISTORY = ("This customer has chosen only {n} item{s} so far, so these are items similar to what they chose, "
                 "mixed with what is popular, until there is more history to learn from.")
SESSION_UNKNOWN = "None of these items are in the trained catalog, so these are the items most people chose."
#: What a boosted item gains on the 0–1 scale: enough to climb past most neighbours, not to jump every list.
BOOST = 0.25
PINNED = "Pinned by the shop"
BOOSTED = "promoted by the shop"
#: From this many items a request's content scores are first read off an int8 copy of the embeddings (a
#: quarter of the bytes of float32: 100k × 384 on one core takes 2.5–5 ms through torch's int8 kernel, ~16 ms
#: through numpy's int8 → float32 conversion, ~11 ms for float32 itself) and only
#: the items that could rank, or be the lowest or highest score, are scored again in float32. Below it the
#: float32 pass is a few milliseconds and the answers are made exactly as before.
QUANTIZED_FROM = 20_000
#: Rows converted from int8 to float32 at a time: a block stays in the core's cache for its matrix product.
_QUANTIZED_BLOCK = 4096


@dataclass(frozen=True)
class ServingRules:
    """A version's business rules as catalog indices: never these, only this category, these higher, these first."""

    exclude: tuple[int, ...] = ()
    category: str = ""
    boost: tuple[int, ...] = ()
    pin: tuple[int, ...] = ()


@dataclass(frozen=True)
class AlsSettings:
    factors: int = 32
    regularization: float = 0.05
    alpha: float = 4.0
    iterations: int = 15
    seed: int = 42

    def model(self, *, loss: bool = True):
        """A fresh implicit ALS on the CPU with one thread (it must not fight the engine for the cores)."""
        from implicit.cpu.als import AlternatingLeastSquares

        with threadpool_limits(1):  # implicit checks BLAS's threads when it is made: one, as it recommends
            return AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                iterations=self.iterations, calculate_training_loss=loss, num_threads=1, random_state=self.seed,
            )


def confidence_matrix(user_index: np.ndarray, item_index: np.ndarray, weights: np.ndarray, *, users: int,
                      items: int) -> sp.csr_matrix:
    """users × items confidences: repeated interactions add up, dampened by log1p (ten views ≠ ten purchases)."""
    matrix = sp.csr_matrix((weights.astype(np.float32), (user_index, item_index)), shape=(users, items))
    matrix.sum_duplicates()
    matrix.data = np.log1p(np.maximum(matrix.data, 0.0)).astype(np.float32)
    matrix.eliminate_zeros()
    return matrix


_blas_limit = None


def _timed(work: Any) -> tuple[float, Any]:
    """(the fastest of three runs of ``work`` in seconds, its result): a one-time choice between two kernels."""
    best, result = float("inf"), None
    for _ in range(3):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def fit_neighbours(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """implicit's item-item cosine model fitted on ``matrix`` (users × items), one thread: its items × items
    similarities, ``NEIGHBOURS`` per item."""
    from implicit.nearest_neighbours import CosineRecommender
    from implicit.utils import ParameterWarning

    model = CosineRecommender(K=NEIGHBOURS, num_threads=1)
    with warnings.catch_warnings():  # its own fit hands its kNN a COO copy and warns about converting it back
        warnings.simplefilter("ignore", ParameterWarning)
        model.fit(matrix, show_progress=False)
    similarity = model.similarity.tocsr().astype(np.float32)
    similarity.sort_indices()
    return similarity


def pin_blas_threads() -> None:
    """BLAS (numpy's OpenBLAS) to one thread for this whole process, once: the serving path's matrix products
    must not fight the engine for the cores, and a ``threadpool_limits`` per request costs milliseconds."""
    global _blas_limit
    if _blas_limit is None:
        _blas_limit = threadpool_limits(limits=1, user_api="blas")


def fit_als(matrix: sp.csr_matrix, settings: AlsSettings, callback=None):
    """implicit's ALS fitted on ``matrix`` (users × items), BLAS pinned to one thread; ``callback(iteration, loss)``."""
    model = settings.model()
    with threadpool_limits(1):
        model.fit(matrix, show_progress=False,
                  callback=(lambda iteration, _elapsed, loss: callback(iteration, loss)) if callback else None)
    return model


def minmax(scores: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Scores scaled to 0–1 over the candidates (``mask`` True), so two kinds of score can be blended."""
    low, high = candidate_bounds(scores, mask)
    if high - low < 1e-12:
        return np.zeros_like(scores, dtype=np.float32)
    return ((scores - low) / (high - low)).astype(np.float32)


def _scaled(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``minmax(scores, mask)`` written into ``scores`` itself when it is float32 (the same values, no copies)."""
    if scores.dtype != np.float32:
        return minmax(scores, mask)
    low, high = candidate_bounds(scores, mask)
    if high - low < 1e-12:
        scores[:] = 0.0
        return scores
    scores -= low
    scores /= high - low
    return scores


def candidate_bounds(scores: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    """(lowest, highest) score among the candidates (all scores when there are none), as ``minmax`` scales them.

    The extremes of every score are found first (two passes, no copy); only when one of them belongs to an
    item the request leaves out (its history, a rule) is the candidates' subset copied and searched.
    """
    if mask is None:
        return float(scores.min()), float(scores.max())
    low, high = int(scores.argmin()), int(scores.argmax())
    if mask[low] and mask[high]:
        return float(scores[low]), float(scores[high])
    values = scores[mask] if mask.any() else scores
    return float(values.min()), float(values.max())


def _kth_largest_at_least(values: np.ndarray, k: int, group: int = 64) -> float:
    """A number no higher than the ``k``-th largest of ``values``, in one pass instead of a partition of all of
    them: the ``k``-th largest of the maxima of groups of ``group`` is the maximum of ``k`` distinct values."""
    maxima = np.maximum.reduceat(values, np.arange(0, len(values), group))
    if len(maxima) < k:
        return -np.inf
    return float(np.partition(maxima, len(maxima) - k)[len(maxima) - k])


@dataclass(frozen=True)
class QuantizedEmbeddings:
    """The item embeddings as int8 with a scale per row, and for each row a bound on how far its score off
    these codes can be from its float32 score, per unit of the profile's length.

    The bound is the length of the row's rounding residual (Cauchy–Schwarz) plus the float32 rounding of two
    dot products of 384 terms (the one here and the exact one it stands for), so an item whose bounded score
    cannot reach the top is left out safely.
    """

    codes: np.ndarray  # items × dims int8
    scales: np.ndarray  # float32 per item
    error: np.ndarray  # float32 per item
    lengths: np.ndarray  # float32 per item: the length of the row the codes stand for (codes × scale)
    _kernel: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _kernel_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def of(cls, embeddings: np.ndarray, block: int = 8192) -> QuantizedEmbeddings:
        items, dims = embeddings.shape
        codes = np.empty((items, dims), dtype=np.int8)
        scales = np.empty(items, dtype=np.float32)
        error = np.empty(items, dtype=np.float32)
        lengths = np.empty(items, dtype=np.float32)
        rounding = 4 * dims * float(np.finfo(np.float32).eps)
        for start in range(0, items, block):  # in blocks: a float64 copy of 100k × 384 would be 300 MB
            rows = embeddings[start:start + block].astype(np.float64)
            scale = np.abs(rows).max(axis=1) / 127
            scale[scale == 0] = 1.0
            quantized = np.rint(rows / scale[:, None])
            residual = rows - quantized * scale[:, None]
            codes[start:start + block] = quantized
            scales[start:start + block] = scale
            error[start:start + block] = (np.linalg.norm(residual, axis=1) * 1.001 + 1e-7
                                          + rounding * np.linalg.norm(rows, axis=1))
            lengths[start:start + block] = np.linalg.norm(quantized * scale[:, None], axis=1) * 1.001
        return cls(codes, scales, error, lengths)

    def bounded_scores(self, profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(every item's approximate ``embedding · profile``, a bound per item on how far it is from the float32
        score): torch's int8 × bfloat16 kernel where it passed its check on these codes (``_bf16_kernel``), else
        ``scores``."""
        profile = profile.astype(np.float32, copy=False)
        bound = self.error * float(np.linalg.norm(profile))
        kernel = self._bf16_kernel(profile)
        if kernel is None:
            return self.scores(profile), bound
        scores, extra = kernel(profile)
        bound += extra
        return scores, bound

    def _bf16_kernel(self, profile: np.ndarray):
        """torch's weight-only int8 matrix product (``_weight_int8pack_mm``: int8 codes, bfloat16 profile and
        scales, float32 sums, a bfloat16 result) when it is on this torch and, on these codes, stays within its
        bound and beats ``scores`` (checked once, on the first profile, under a lock: two requests timing each
        other would make the choice a coin toss). 2.5–5 ms for 100k × 384 on one core of this AVX512 machine
        against ~15 ms for ``scores``.

        Its bound adds, to the codes' own error: bfloat16's rounding (unit 2^-8) of the profile (measured per
        request: row length × the rounded profile's distance), of each scale and of each result (each at most
        2^-8 of row length × profile length), and float32 sums of ``dims`` terms.
        """
        if "run" not in self._kernel:
            with self._kernel_lock:
                if "run" not in self._kernel:
                    self._kernel["run"] = self._checked_bf16_kernel(profile)
        return self._kernel["run"]

    def _checked_bf16_kernel(self, profile: np.ndarray, *, require_faster: bool = True) -> Any:
        """``_bf16_kernel``'s choice: a function profile -> (scores, their bound's bfloat16 part), or None."""
        if self.codes.shape[1] % 16:  # torch's vector loops step 16 (AVX512) or 8 wide with no tail
            return None
        try:
            import torch

            from inference.knowledge.embedder import torch_threads

            codes = torch.from_numpy(self.codes)
            scales = torch.from_numpy(self.scales).to(torch.bfloat16)
            dims = self.codes.shape[1]
            unit, sums = 2.0 ** -8, dims * float(np.finfo(np.float32).eps)

            def run(vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                rounded = torch.from_numpy(vector).to(torch.bfloat16)
                with torch.inference_mode(), torch_threads(1):  # as BLAS: one thread, never against the engine
                    out = torch._weight_int8pack_mm(rounded[None, :], codes, scales)
                rounded32 = rounded.float().numpy()
                drift = float(np.linalg.norm(rounded32 - vector))
                extra = self.lengths * (drift + (3 * unit + sums) * float(np.linalg.norm(rounded32)) * 1.01)
                return out.float().numpy().ravel(), extra

            fast, reference = _timed(lambda: run(profile)), _timed(lambda: self.scores(profile))
        except (ImportError, AttributeError, RuntimeError, TypeError) as exc:
            logger.info("Recommendations score content with numpy: torch's int8 kernel is not usable (%s).", exc)
            return None
        (scores, extra), approximate = fast[1], reference[1]
        exact_enough = bool(np.all(np.abs(scores - approximate) <= extra))  # the same codes: only rounding differs
        if not exact_enough or (require_faster and fast[0] >= reference[0]):
            logger.info("Recommendations score content with numpy (torch's int8 kernel: within its bound %s, "
                        "%.1f ms against %.1f ms).", exact_enough, fast[0] * 1000, reference[0] * 1000)
            return None
        return run

    def scores(self, profile: np.ndarray) -> np.ndarray:
        """Every item's approximate ``embedding · profile``: each block of codes converted to float32 in a
        buffer that stays in cache, one matrix product per block."""
        items, dims = self.codes.shape
        out = np.empty(items, dtype=np.float32)
        buffer = np.empty((min(_QUANTIZED_BLOCK, items), dims), dtype=np.float32)
        profile = profile.astype(np.float32, copy=False)
        for start in range(0, items, _QUANTIZED_BLOCK):
            end = min(start + _QUANTIZED_BLOCK, items)
            rows = buffer[:end - start]
            np.copyto(rows, self.codes[start:end], casting="unsafe")
            np.dot(rows, profile, out=out[start:end])
        out *= self.scales
        return out


@dataclass
class Recommender:
    item_ids: list[str]
    user_ids: list[str]
    item_factors: np.ndarray
    user_factors: np.ndarray
    embeddings: np.ndarray  # unit-length MiniLM vectors of the items' text
    popularity: np.ndarray  # interactions per item
    history: sp.csr_matrix  # users × items confidences the model was trained on
    items: list[dict[str, str]]  # {title, category, image, link} per item
    weight: float
    settings: AlsSettings
    #: Items the model was trained on: the first ``trained_items``; the rest joined from a newer catalog.
    trained_items: int | None = None
    #: False for a trained item the newer catalog no longer has: never recommended.
    available: np.ndarray | None = None
    #: Each item's weight in a user's content profile is ``recency ** age``; 1.0 weighs every item alike.
    recency: float = 1.0
    #: Beside ``history.data``: how many of the user's items they chose later (0: their latest); None: unknown.
    history_age: np.ndarray | None = None
    #: implicit's item-item similarities (items × items, ``NEIGHBOURS`` per row) and their share of the
    #: collaborative part (0: ALS alone).
    neighbours: sp.csr_matrix | None = None
    neighbour_share: float = 0.0
    _item_index: dict[str, int] = field(default_factory=dict, repr=False)
    _user_index: dict[str, int] = field(default_factory=dict, repr=False)
    _als: Any = field(default=None, repr=False)
    _item_norms: np.ndarray | None = field(default=None, repr=False)
    _categories: np.ndarray | None = field(default=None, repr=False)
    #: Items a request may recommend before its exclusions, per category rule ("" for none): made once per model.
    _base_masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _popularity_scores: np.ndarray | None = field(default=None, repr=False)
    _quantized: QuantizedEmbeddings | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._item_index = {item: i for i, item in enumerate(self.item_ids)}
        self._user_index = {user: i for i, user in enumerate(self.user_ids)}
        if self.trained_items is None:
            self.trained_items = len(self.item_ids)
        if self.available is None:
            self.available = np.ones(len(self.item_ids), dtype=bool)

    def with_catalog(self, item_ids: list[str], items: list[dict[str, str]], new_embeddings: np.ndarray) -> Recommender:
        """This model serving a newer catalog (``item_ids`` with their ``items`` cards), without retraining.

        Items it was not trained on join at the end with ``new_embeddings`` (their MiniLM vectors, in catalog
        order), no ALS factors and no popularity, so the content path serves them; trained items the catalog
        no longer has are never recommended; every card shows the catalog's current name, picture and link.
        """
        new = [item for item in item_ids if item not in self._item_index]
        if len(new) != len(new_embeddings):
            raise ValueError(f"{len(new)} new items but {len(new_embeddings)} embeddings.")
        cards = dict(zip(item_ids, items, strict=True))
        total = len(self.item_ids) + len(new)
        available = np.zeros(total, dtype=bool)
        joined = {item: len(self.item_ids) + i for i, item in enumerate(new)}
        available[[self._item_index.get(item, joined.get(item, 0)) for item in item_ids]] = True
        history = sp.csr_matrix((self.history.data, self.history.indices, self.history.indptr),
                                shape=(len(self.user_ids), total))
        neighbours = None if self.neighbours is None else sp.csr_matrix(
            (self.neighbours.data, self.neighbours.indices,
             np.r_[self.neighbours.indptr, np.full(len(new), self.neighbours.indptr[-1])]), shape=(total, total))
        return Recommender(
            item_ids=[*self.item_ids, *new], user_ids=self.user_ids,
            item_factors=np.vstack([self.item_factors, np.zeros((len(new), self.item_factors.shape[1]),
                                                                dtype=np.float32)]),
            user_factors=self.user_factors,
            embeddings=np.vstack([self.embeddings, np.asarray(new_embeddings, dtype=np.float32)
                                  .reshape(len(new), self.embeddings.shape[1])]),
            popularity=np.concatenate([self.popularity, np.zeros(len(new), dtype=np.float32)]), history=history,
            items=[cards.get(item, old) for item, old in zip(self.item_ids, self.items, strict=True)]
            + [cards[item] for item in new],
            weight=self.weight, settings=self.settings, trained_items=len(self.item_ids), available=available,
            recency=self.recency, history_age=self.history_age, neighbours=neighbours,
            neighbour_share=self.neighbour_share,
        )

    def is_new(self, index: int) -> bool:
        """Whether the item joined from a newer catalog after training (no collaborative signal yet)."""
        return index >= self.trained_items

    # Saving ----------------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        np.savez(
            folder / ARRAYS_FILE, item_ids=np.asarray(self.item_ids, dtype=str),
            user_ids=np.asarray(self.user_ids, dtype=str), item_factors=self.item_factors,
            user_factors=self.user_factors, embeddings=self.embeddings.astype(np.float16),
            popularity=self.popularity.astype(np.float32), history_indptr=self.history.indptr,
            history_indices=self.history.indices, history_data=self.history.data,
            **({} if self.history_age is None else {"history_age": self.history_age.astype(np.int32)}),
            **({} if self.neighbours is None else {
                "neighbours_indptr": self.neighbours.indptr, "neighbours_indices": self.neighbours.indices,
                "neighbours_data": self.neighbours.data.astype(np.float32)}),
        )
        meta = {"items": self.items, "weight": self.weight, "settings": self.settings.__dict__,
                "min_history": MIN_HISTORY, "recency": self.recency, "neighbour_share": self.neighbour_share}
        (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path) -> Recommender:
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as arrays:
            data = {name: arrays[name] for name in arrays.files}
        meta = json.loads((folder / META_FILE).read_text())
        users, items = len(data["user_ids"]), len(data["item_ids"])
        history = sp.csr_matrix((data["history_data"], data["history_indices"], data["history_indptr"]),
                                shape=(users, items))
        return cls(
            item_ids=data["item_ids"].tolist(), user_ids=data["user_ids"].tolist(),
            item_factors=data["item_factors"].astype(np.float32), user_factors=data["user_factors"].astype(np.float32),
            embeddings=data["embeddings"].astype(np.float32), popularity=data["popularity"], history=history,
            items=meta["items"], weight=float(meta["weight"]), settings=AlsSettings(**meta["settings"]),
            recency=float(meta.get("recency", 1.0)), history_age=data.get("history_age"),
            neighbours=sp.csr_matrix((data["neighbours_data"], data["neighbours_indices"], data["neighbours_indptr"]),
                                     shape=(items, items)) if "neighbours_data" in data else None,
            neighbour_share=float(meta.get("neighbour_share", 0.0)),
        )

    # Scores --------------------------------------------------------------------------------------------

    @property
    def als(self):
        """An implicit ALS holding these factors: what ``explain`` and ``recalculate_user`` run on."""
        if self._als is None:
            model = self.settings.model(loss=False)
            model.item_factors, model.user_factors = self.item_factors, self.user_factors
            self._als = model
        return self._als

    def item_index(self, item_id: str) -> int | None:
        return self._item_index.get(str(item_id))

    def user_index(self, user_id: str) -> int | None:
        return self._user_index.get(str(user_id))

    def user_items(self, user: int) -> np.ndarray:
        return self.history.indices[self.history.indptr[user]:self.history.indptr[user + 1]]

    def session_row(self, items: Iterable[int]) -> sp.csr_matrix:
        """One user's row of confidences for a list of item indices (a visitor's session)."""
        indices = np.asarray(sorted(set(items)), dtype=np.int32)
        data = np.full(len(indices), np.log1p(1.0), dtype=np.float32)
        return sp.csr_matrix((data, indices, [0, len(indices)]), shape=(1, len(self.item_ids)))

    def content_scores(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return self.embeddings @ self.profile(items, weights)

    def profile(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """The unit-length mean of the items' embeddings (weighted by ``weights``, one per item, when given): one
        vector to score every item against."""
        profile = self.embeddings[items].mean(axis=0) if weights is None else weights @ self.embeddings[items]
        norm = np.linalg.norm(profile)
        return profile / norm if norm else profile

    def user_weights(self, user: int) -> np.ndarray | None:
        """The weights of a user's items (``user_items`` order) in their content profile; None: all alike."""
        if self.recency >= 1.0 or self.history_age is None:
            return None
        start, end = self.history.indptr[user], self.history.indptr[user + 1]
        return (self.recency ** self.history_age[start:end]).astype(np.float32)

    def session_weights(self, viewed: list[int], history: np.ndarray) -> np.ndarray | None:
        """``user_weights`` of a session's ``history`` (sorted indices): the later an item in ``viewed``, the
        more recent (an item viewed twice counts where it was viewed last)."""
        if self.recency >= 1.0:
            return None
        last = {item: position for position, item in enumerate(viewed)}
        newest_first = sorted(history.tolist(), key=lambda item: -last[item])
        age = {item: a for a, item in enumerate(newest_first)}
        return (self.recency ** np.asarray([age[item] for item in history.tolist()], dtype=np.float32)).astype(
            np.float32)

    def quantized(self) -> QuantizedEmbeddings | None:
        """The int8 embeddings of a catalog of ``QUANTIZED_FROM`` items or more, made once per model."""
        if self._quantized is None and len(self.item_ids) >= QUANTIZED_FROM:
            self._quantized = QuantizedEmbeddings.of(self.embeddings)
        return self._quantized

    def popularity_scores(self) -> np.ndarray:
        """log1p(interactions) per item, computed once per model (callers must not write to it)."""
        if self._popularity_scores is None:
            self._popularity_scores = np.log1p(self.popularity).astype(np.float32)
        return self._popularity_scores

    def neighbour_scores(self, liked: sp.csr_matrix | None, mask: np.ndarray) -> np.ndarray | None:
        """The item-item model's scores of a user's weighted row ``liked`` (1 × items), scaled 0–1 over the
        candidates; None when the model has no share."""
        if self.neighbours is None or not self.neighbour_share or liked is None:
            return None
        raw = (liked @ self.neighbours).toarray().ravel().astype(np.float32)
        return _scaled(self._unknown_as_average(raw, mask), mask)

    def liked_row(self, row: sp.csr_matrix, weights: np.ndarray | None) -> sp.csr_matrix:
        """A user's row of confidences, each times its weight in the content profile (``user_weights``)."""
        if weights is None:
            return row
        return sp.csr_matrix((row.data * weights, row.indices, row.indptr), shape=row.shape)

    def _collaborative(self, user_vector: np.ndarray, mask: np.ndarray, near: np.ndarray | None) -> np.ndarray:
        """ALS's scores scaled 0–1, mixed with the item-item model's (``near``) at its share when there are some."""
        als = _scaled(self._unknown_as_average(self.item_factors @ user_vector, mask), mask)
        if near is not None:
            als *= 1 - self.neighbour_share
            als += self.neighbour_share * near
        return als

    def hybrid_scores(self, user_vector: np.ndarray, items: np.ndarray, mask: np.ndarray,
                      weight: float | None = None, profile_weights: np.ndarray | None = None,
                      near: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(blend, scaled collaborative part, scaled content part) over all items; ``mask`` marks the candidates;
        ``profile_weights`` the items' weights in the content profile (``user_weights``), ``near`` the item-item
        model's ``neighbour_scores``."""
        weight = self.weight if weight is None else weight
        als = self._collaborative(user_vector, mask, near)
        content = _scaled(self.content_scores(items, profile_weights), mask)
        blend = als * weight
        blend += content * (1 - weight)
        return blend, als, content

    def _unknown_as_average(self, raw: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ALS knows nothing of an item it was not trained on: it counts as the average candidate, so the
        content part alone decides where a new item ranks."""
        if self.trained_items < len(raw):
            known = mask[:self.trained_items]
            raw[self.trained_items:] = raw[:self.trained_items][known].mean() if known.any() else 0.0
        return raw

    def short_history_scores(self, items: np.ndarray, mask: np.ndarray) -> np.ndarray:
        blend = _scaled(self.content_scores(items), mask)
        blend *= 1 - SHORT_HISTORY_POPULARITY
        blend += SHORT_HISTORY_POPULARITY * minmax(self.popularity_scores(), mask)
        return blend

    def item_neighbour_scores(self, item: int, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(blend, ALS item-item cosine, content cosine) for "similar items"; ALS only counts for a chosen item."""
        content = _scaled(self.embeddings @ self.embeddings[item], mask)
        if self.popularity[item] <= 0:
            return content, np.zeros_like(content), content
        if self._item_norms is None:
            self._item_norms = np.linalg.norm(self.item_factors, axis=1) + 1e-9
        cosine = self.item_factors @ self.item_factors[item]
        cosine /= self._item_norms * self._item_norms[item]
        als = _scaled(self._unknown_as_average(cosine, mask), mask)
        blend = als * 0.5
        blend += content * 0.5
        return blend, als, content

    # Serving ---------------------------------------------------------------------------------------------

    def _served_hybrid_scores(self, vector, items, mask, k, rules: ServingRules, profile_weights=None, near=None):
        """``hybrid_scores`` as a request needs it, and the indices of the items that can be shown (None: all):
        exact for those (the top ``k`` under ``rules``, the pinned), for the others only low enough that they
        cannot be."""
        if self.quantized() is None:
            return (*self.hybrid_scores(vector, items, mask, profile_weights=profile_weights, near=near), None)
        als = self._collaborative(vector, mask, near)

        def blend(content: np.ndarray, at) -> np.ndarray:
            mixed = als[at] * self.weight
            mixed += content * (1 - self.weight)
            return mixed

        scores, content, shown = self._content_blend(items, mask, 1 - self.weight, blend, k, rules, profile_weights)
        return scores, als, content, shown

    def _served_short_history_scores(self, items, mask, k, rules: ServingRules) -> tuple[np.ndarray, Any]:
        """(``short_history_scores``, the items that can be shown) as ``_served_hybrid_scores``."""
        if self.quantized() is None:
            return self.short_history_scores(items, mask), None
        popular = SHORT_HISTORY_POPULARITY * minmax(self.popularity_scores(), mask)

        def blend(content: np.ndarray, at) -> np.ndarray:
            mixed = content * (1 - SHORT_HISTORY_POPULARITY)
            mixed += popular[at]
            return mixed

        scores, _, shown = self._content_blend(items, mask, 1 - SHORT_HISTORY_POPULARITY, blend, k, rules)
        return scores, shown

    def _content_blend(self, items, mask, share: float, blend, k, rules: ServingRules, profile_weights=None):
        """(``blend(scaled content, every item)``, scaled content, the items that can be shown) off the int8
        embeddings, then made exact for the items that can be shown.

        ``blend(content, at)`` mixes the content part of the items ``at`` with the rest of the score, in which
        content has ``share``. The lowest and highest content scores (the scaling) come from the few items
        whose bounds can hold them, scored in float32; so do the items whose bounded score can reach the
        ``k``-th best lower bound after boosts, and the pinned; they get exactly the figures the float32
        pass gives them (the same operations on fewer rows).
        """
        quantized = self.quantized()
        profile = self.profile(items, profile_weights)
        content, error = quantized.bounded_scores(profile)
        low, high = self._exact_content_bounds(content, error, profile, mask)
        if high - low < 1e-12:
            content[:] = 0.0
            return blend(content, slice(None)), content, None
        content -= low
        content /= high - low
        error *= share / (high - low)
        error += 1e-6  # the scaling's own float32 rounding
        scores = blend(content, slice(None))
        exact = self._could_show(scores, error, mask, k, rules)
        exact_content = self.embeddings[exact] @ profile
        exact_content -= low
        exact_content /= high - low
        content[exact] = exact_content
        scores[exact] = blend(exact_content, exact)
        return scores, content, exact

    def _exact_content_bounds(self, approximate, error, profile, mask) -> tuple[float, float]:
        """``candidate_bounds`` of the float32 content scores, from the candidates whose bounds can hold them."""
        within = mask if mask.any() else np.ones_like(mask)
        lower, upper = approximate - error, approximate + error
        top = np.where(within, lower, -np.inf).max()
        bottom = np.where(within, upper, np.inf).min()
        highest = np.flatnonzero(within & (upper >= top))
        lowest = np.flatnonzero(within & (lower <= bottom))
        return (float((self.embeddings[lowest] @ profile).min()),
                float((self.embeddings[highest] @ profile).max()))

    def _could_show(self, scores, error, mask, k, rules: ServingRules) -> np.ndarray:
        """Indices of the candidates that ``ranked`` could show when each score may be off by ``error``.

        Boosts move a bound as they move a score (add, then cap at 1), so the scores are boosted first; of
        the ``k`` best lower bounds at most ``len(pinned)`` are pinned, so the rest's top still reaches them.
        """
        boosted = scores.copy()
        if rules.boost:
            boosted[list(rules.boost)] += BOOST
            np.minimum(boosted, 1.0, out=boosted)
        threshold = _kth_largest_at_least(np.where(mask, boosted - error, -np.inf), k)
        pinned = [index for index in rules.pin if mask[index]]
        return np.union1d(np.flatnonzero(mask & (boosted + error >= threshold)), pinned).astype(np.int64)


    def rules(self, *, exclude_ids: Iterable[str] = (), category: str = "", boost_ids: Iterable[str] = (),
              pin_ids: Iterable[str] = ()) -> ServingRules:
        """A version's business rules as indices of this catalog (ids it does not know are skipped)."""
        def known(ids: Iterable[str]) -> tuple[int, ...]:
            return tuple(dict.fromkeys(i for item in ids if (i := self.item_index(item)) is not None))

        return ServingRules(exclude=known(exclude_ids), category=category, boost=known(boost_ids),
                            pin=known(pin_ids))

    def candidates(self, *, exclude: Iterable[int] = (), category: str = "") -> np.ndarray:
        mask = self._base_mask(category.strip().lower() if category else "").copy()
        mask[list(exclude)] = False
        return mask

    def _base_mask(self, category: str) -> np.ndarray:
        """The items a category rule allows (all available ones for ""), once per model and category: comparing
        100k category strings is ~2 ms, a list comprehension over the cards ~10 ms."""
        mask = self._base_masks.get(category)
        if mask is None:
            mask = self.available.copy()
            if category:
                if self._categories is None:
                    self._categories = np.array([item.get("category", "").strip().lower() for item in self.items])
                mask &= self._categories == category
            if len(self._base_masks) >= 32:  # a version has one category rule; a playground may try a few
                self._base_masks.clear()
            self._base_masks[category] = mask
        return mask

    def ranked(self, scores: np.ndarray, mask: np.ndarray, k: int, rules: ServingRules,
               among: np.ndarray | None = None) -> tuple[list[int], np.ndarray]:
        """(pinned items, the rest best first) once the shop's rules are applied to the model's ``scores``.

        Runs after scoring and before top-k: boosted items gain ``BOOST`` (scores stay 0–1), pinned ones come
        first in the order the shop gave, and neither can bring back an item the rules or the history leave out.
        """
        pinned = [index for index in rules.pin if mask[index]][:k]
        if rules.boost:  # the boosted few gain BOOST; every score stays at most 1 (as a blend's rounding may pass it)
            boosted = list(rules.boost)
            scores[boosted] += BOOST
            np.minimum(scores, 1.0, out=scores)
        rest = mask.copy()
        rest[pinned] = False
        return pinned, self.top(scores, rest, k - len(pinned), among)

    def top(self, scores: np.ndarray, mask: np.ndarray, k: int, among: np.ndarray | None = None) -> np.ndarray:
        """Indices of the ``k`` best candidates, best first: exact, by a partial sort of every score, or only of
        the indices ``among`` when the caller knows the best are there."""
        if among is not None:
            return among[self.top(scores[among], mask[among], k)]
        masked = np.where(mask, scores, -np.inf)
        k = min(k, int(mask.sum()))
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        best = np.argpartition(-masked, k - 1)[:k]
        return best[np.argsort(-masked[best], kind="stable")]

    def title(self, index: int) -> str:
        return self.items[index].get("title") or self.item_ids[index]

    def _card(self, index: int, score: float, reason: str, rules: ServingRules | None = None) -> dict[str, Any]:
        if rules is not None and index in rules.pin:
            reason = PINNED
        elif rules is not None and index in rules.boost:
            reason = f"{reason} · {BOOSTED}"
        item = self.items[index]
        card = {"id": self.item_ids[index], "title": self.title(index), "score": round(float(score), 3),
                "reason": reason}
        card.update({name: item[name] for name in ("image", "link", "category") if item.get(name)})
        return card

    def _similar_reason(self, index: int, history: np.ndarray) -> str:
        nearest = int(history[np.argmax(self.embeddings[history] @ self.embeddings[index])])
        return self._similar_words(index, nearest)

    def _similar_words(self, index: int, other: int) -> str:
        mine, theirs = self.items[index].get("category", ""), self.items[other].get("category", "")
        both = f": both are {mine.lower()}" if mine and mine.lower() == theirs.lower() else ""
        lead = "New in the catalog, similar to" if self.is_new(index) else "Similar to"
        return f"{lead} {self.title(other)}{both}"

    def _popular_reason(self, index: int) -> str:
        count = int(self.popularity[index])
        return f"Popular: chosen by {count} customer{'' if count == 1 else 's'}" if count else "New in the catalog"

    def recommend(self, query: dict[str, Any], *, k: int = 10, rules: ServingRules | None = None) -> dict[str, Any]:
        """The result payload for a query {"user"} | {"items"} | {"item"}: ``{items, fallback?}``."""
        rules = rules or ServingRules()
        if query.get("item") not in (None, ""):
            return self._similar_items(str(query["item"]), k, rules)
        if query.get("user") not in (None, ""):
            user = self.user_index(str(query["user"]))
            if user is None:
                return self._popular(k, rules, COLD_USER)
            history = self.user_items(user)
            if len(history) < MIN_HISTORY:
                return self._short_history(history, k, rules)
            start, end = self.history.indptr[user], self.history.indptr[user + 1]
            row = sp.csr_matrix((self.history.data[start:end], history, [0, end - start]),
                                shape=(1, len(self.item_ids)))
            return self._hybrid(self.user_factors[user], row, history, k, rules, self.user_weights(user))
        known = [i for item in query.get("items") or [] if (i := self.item_index(str(item))) is not None]
        history = np.asarray(sorted(set(known)), dtype=np.int64)
        if not len(history):
            return self._popular(k, rules, SESSION_UNKNOWN if query.get("items") else COLD_USER)
        if len(history) < MIN_HISTORY:
            return self._short_history(history, k, rules)
        row = self.session_row(history)
        vector = self.als.recalculate_user(0, row)
        return self._hybrid(vector, row, history, k, rules, self.session_weights(known, history))

    def _hybrid(self, vector, row, history, k, rules: ServingRules, profile_weights=None) -> dict[str, Any]:
        mask = self.candidates(exclude=[*rules.exclude, *history.tolist()], category=rules.category)
        liked = self.liked_row(row, profile_weights)
        near = self.neighbour_scores(liked, mask)
        scores, als, content, shown = self._served_hybrid_scores(vector, history, mask, k, rules, profile_weights,
                                                                 near)
        pinned, best = self.ranked(scores, mask, k, rules, among=shown)
        weights = None
        cards = [self._card(index, scores[index], PINNED, rules) for index in pinned]
        for index in best:
            if not self.is_new(int(index)) and self.weight * als[index] >= (1 - self.weight) * content[index]:
                liked_most = self._liked_most(liked, int(index)) if near is not None and (
                    2 * self.neighbour_share * near[index] >= als[index]) else None
                if liked_most is not None:  # the item-item part gave at least half: the item that gave it most
                    cards.append(self._card(int(index), scores[index], f"Because you liked {self.title(liked_most)}",
                                            rules))
                    continue
                _, contributions, weights = self.als.explain(0, row, int(index), user_weights=weights, N=1)
                reason = (f"Because you liked {self.title(int(contributions[0][0]))}" if contributions
                          else self._similar_reason(int(index), history))
            else:
                reason = self._similar_reason(int(index), history)
            cards.append(self._card(int(index), scores[index], reason, rules))
        return {"items": cards}

    def _liked_most(self, liked: sp.csr_matrix, index: int) -> int | None:
        """The item of the weighted history ``liked`` that gave ``index`` most of its item-item score (None: none)."""
        similarity = self.neighbours[liked.indices][:, index].toarray().ravel() * liked.data
        return int(liked.indices[int(np.argmax(similarity))]) if similarity.max(initial=0.0) > 0 else None

    def _short_history(self, history, k, rules: ServingRules) -> dict[str, Any]:
        mask = self.candidates(exclude=[*rules.exclude, *history.tolist()], category=rules.category)
        scores, shown = self._served_short_history_scores(history, mask, k, rules)
        pinned, best = self.ranked(scores, mask, k, rules, among=shown)
        cards = [self._card(int(i), scores[i], self._similar_reason(int(i), history), rules) for i in [*pinned, *best]]
        n = len(history)
        return {"items": cards, "fallback": SHORT_HISTORY.format(n=n, s="" if n == 1 else "s")}

    def _popular(self, k, rules: ServingRules, note: str) -> dict[str, Any]:
        mask = self.candidates(exclude=rules.exclude, category=rules.category)
        scores = minmax(self.popularity_scores(), mask)
        pinned, best = self.ranked(scores, mask, k, rules)
        return {"items": [self._card(int(i), scores[i], self._popular_reason(int(i)), rules) for i in [*pinned, *best]],
                "fallback": note}

    def _similar_items(self, item_id: str, k, rules: ServingRules) -> dict[str, Any]:
        item = self.item_index(item_id)
        if item is None:
            return self._popular(k, rules, f"“{item_id}” is not in the trained catalog, so these are "
                                           "the items most people chose.")
        mask = self.candidates(exclude=[*rules.exclude, item], category=rules.category)
        scores, als, content = self.item_neighbour_scores(item, mask)
        pinned, best = self.ranked(scores, mask, k, rules)
        cards = [self._card(index, scores[index], PINNED, rules) for index in pinned]
        for index in best:
            if not self.is_new(int(index)) and als[index] > content[index]:
                reason = f"Customers who chose {self.title(item)} also chose this"
            else:
                reason = self._similar_words(int(index), item)
            cards.append(self._card(int(index), scores[index], reason, rules))
        result: dict[str, Any] = {"items": cards}
        if self.popularity[item] <= 0:
            result["fallback"] = (f"Nobody has chosen {self.title(item)} yet, so these are the items whose "
                                  "descriptions are closest to it.")
        return result
