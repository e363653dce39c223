"""Hybrid retrieval over a knowledge index held in memory: exact dense cosine + BM25, fused by rank.

* **Dense**: the chunks' float16 embeddings, loaded once into a float32 matrix; a question is one matrix-vector
  product (exact search). At 100k chunks × 384 dims that is ~150 MB and a few milliseconds
  (tests/benchmarks/bench_retrieval.py), so no ANN index is needed at our sizes; faiss/usearch would come in
  above a few hundred thousand chunks.
* **Lexical**: BM25 (``bm25s``) built in memory from the chunk texts when the index is loaded, not stored:
  it is a pure function of the texts already in the database, building it costs well under a second per 10k
  chunks (the benchmark prints it), and one source of truth means no files to keep in step across hosts.
* **Order** by weighted reciprocal-rank fusion of the two rankings: Σ weight / (RRF_K + rank). Measured on
  paraphrased questions of store_faq.csv (tests/benchmarks/bench_retrieval.py), the textbook RRF (k = 60,
  equal weights) put the right FAQ first for 6 of 15 where dense alone did 13: on a small knowledge base
  BM25's top hits for a reworded question are noise, and k = 60 makes every rank nearly equal. With k = 3
  and BM25 at 0.2 the fused order keeps dense's 13 / 15: BM25 then reorders neighbours only where dense
  and it agree on the better one (ties go to dense), a passage sharing the question's rare words (a product
  name, a code) among near-equal dense scores.
  **Abstention** uses the best *dense* cosine against the version's threshold: rank-based fused scores
  cannot be compared across questions; a cosine can.
* **Follow-ups**: the question is embedded alone and together with the last user turns; each chunk's dense
  score is the better of the two, so "and how much is express?" finds the shipping passage while a new
  topic is not dragged back to the old one. BM25 reads the question and those turns.

Loaded indexes live in an LRU keyed by index id within settings.KNOWLEDGE_CACHE_MB. Every function here
blocks (ORM, numpy, MiniLM): the answer runner calls ``retrieve`` through ``asyncio.to_thread``, never on
the event loop and never on the scheduler's decode thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

#: The threshold (best dense cosine) below which the assistant says it does not know, when a request gives
#: none; products/kinds/qa.py's QA_DEFAULT_THRESHOLD must say the same. Measured on store_faq.csv
#: (tests/inference/test_knowledge_search.py, tests/benchmarks/bench_retrieval.py): reworded answerable
#: questions score 0.40 and up (median 0.57), clearly off-topic ones 0.17 at most, on-domain questions the
#: FAQ does not answer 0.33 in the median; 0.35 answers all the first, refuses all the second and 6 in 10
#: of the third (0.40 would refuse 7 in 10 but sits on the lowest answerable score).
DEFAULT_THRESHOLD = 0.35
RRF_K = 3
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 0.2
#: How many of each ranking take part in the fusion.
CANDIDATES = 50
#: The most earlier user turns read with a follow-up question.
HISTORY_TURNS = 2


@dataclass(frozen=True)
class Hit:
    id: int  # KnowledgeChunk id
    position: int
    title: str
    text: str
    source_row: int
    score: float  # dense cosine with the question (the better of alone / with history)
    dense_rank: int | None  # 1-based, None beyond CANDIDATES
    bm25_rank: int | None


@dataclass(frozen=True)
class Retrieval:
    hits: list[Hit]  # fused order, top_k of them
    best_score: float  # best dense cosine over the whole index (0 when it is empty)


class LoadedIndex:
    """One index in memory: ids, titles, texts, the embedding matrix and its BM25."""

    def __init__(self, *, ids: list[int], positions: list[int], titles: list[str], texts: list[str],
                 source_rows: list[int], matrix: np.ndarray) -> None:
        import bm25s

        self.ids, self.positions, self.titles, self.texts, self.source_rows = ids, positions, titles, texts, source_rows
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.bm25 = None
        if texts:
            corpus = bm25s.tokenize([f"{t}\n{x}" for t, x in zip(titles, texts, strict=True)], stopwords="en",
                                    show_progress=False)
            self.bm25 = bm25s.BM25()
            self.bm25.index(corpus, show_progress=False)
        text_bytes = sum(len(t) + len(x) for t, x in zip(titles, texts, strict=True))
        # Vectors, texts (+ Python object overhead), BM25's sparse matrix (~ one int + one float per token).
        self.nbytes = self.matrix.nbytes + 2 * text_bytes + 100 * len(texts) + 2 * text_bytes

    def __len__(self) -> int:
        return len(self.ids)

    def dense_scores(self, queries: np.ndarray) -> np.ndarray:
        """Per chunk, the best cosine with any of the (unit-length) query vectors."""
        if not len(self):
            return np.zeros(0, dtype=np.float32)
        return (self.matrix @ np.atleast_2d(queries).T).max(axis=1)

    def bm25_scores(self, text: str) -> np.ndarray:
        if self.bm25 is None:
            return np.zeros(0, dtype=np.float32)
        import bm25s

        tokens = bm25s.tokenize([text], stopwords="en", return_ids=False, show_progress=False)[0]
        known = [t for t in tokens if t in self.bm25.vocab_dict]
        if not known:
            return np.zeros(len(self), dtype=np.float32)
        return self.bm25.get_scores(known)

    def search(self, queries: np.ndarray, lexical_text: str, *, top_k: int) -> Retrieval:
        if not len(self):
            return Retrieval([], 0.0)
        dense = self.dense_scores(queries)
        lexical = self.bm25_scores(lexical_text)
        return fuse(self, dense, lexical, top_k=top_k)


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` best scores, best first (ties: lower index first, so results are stable)."""
    n = min(n, len(scores))
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]


def rrf(rankings: list[list[int]], *, weights: list[float] | None = None, k: int = RRF_K) -> list[int]:
    """Reciprocal-rank fusion: items ordered by Σ weight / (k + rank) over the rankings they appear in; a tie
    goes to the item the first ranking (dense) put higher."""
    score: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking, 1):
            score[item] = score.get(item, 0.0) + weight / (k + rank)
    seen = {item: order for order, item in enumerate(score)}  # dicts keep insertion order: the first ranking's
    return sorted(score, key=lambda item: (-score[item], seen[item]))


def fuse(index: LoadedIndex, dense: np.ndarray, lexical: np.ndarray, *, top_k: int) -> Retrieval:
    dense_order = [int(i) for i in _top(dense, CANDIDATES)]
    lexical_order = [int(i) for i in _top(lexical, CANDIDATES) if lexical[i] > 0]
    dense_rank = {i: r for r, i in enumerate(dense_order, 1)}
    lexical_rank = {i: r for r, i in enumerate(lexical_order, 1)}
    hits = [
        Hit(id=index.ids[i], position=index.positions[i], title=index.titles[i], text=index.texts[i],
            source_row=index.source_rows[i], score=float(dense[i]), dense_rank=dense_rank.get(i),
            bm25_rank=lexical_rank.get(i))
        for i in rrf([dense_order, lexical_order], weights=[DENSE_WEIGHT, BM25_WEIGHT])[:top_k]
    ]
    return Retrieval(hits, float(dense[dense_order[0]]))


# Loading, under an LRU budget ---------------------------------------------------------------------


class IndexCache:
    """Loaded indexes by id, least recently used dropped first once their bytes pass ``budget_bytes``.

    A ready index never changes (a new dataset version makes a new index), so an entry stays valid until
    it is evicted; a failed or rebuilt one is keyed by its ``built_at`` too, to be safe.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[tuple[int, str], LoadedIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, index) -> LoadedIndex:
        key = (index.pk, str(index.built_at))
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        loaded = load_index(index.pk)  # outside the lock: another question may use another index meanwhile
        with self._lock:
            self._entries[key] = loaded
            self._entries.move_to_end(key)
            while len(self._entries) > 1 and self.nbytes > self.budget_bytes:
                self._entries.popitem(last=False)
        return loaded

    @property
    def nbytes(self) -> int:
        return sum(entry.nbytes for entry in self._entries.values())

    def __contains__(self, index_id: int) -> bool:
        return any(key[0] == index_id for key in self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def load_index(index_id: int) -> LoadedIndex:
    from inference.knowledge.embedder import from_bytes
    from inference.models import KnowledgeChunk

    rows = list(KnowledgeChunk.objects.filter(index_id=index_id).order_by("position")
                .values_list("id", "position", "title", "text", "source_row", "embedding"))
    ids, positions, titles, texts, source_rows, blobs = (list(column) for column in zip(*rows, strict=True)) \
        if rows else ([], [], [], [], [], [])
    return LoadedIndex(ids=ids, positions=positions, titles=titles, texts=texts, source_rows=source_rows,
                       matrix=from_bytes(blobs))


_cache: IndexCache | None = None
_cache_lock = threading.Lock()


def index_cache() -> IndexCache:
    global _cache
    with _cache_lock:
        if _cache is None:
            from django.conf import settings

            _cache = IndexCache(settings.KNOWLEDGE_CACHE_MB * 1024 * 1024)
        return _cache


def query_texts(question: str, history: list[str]) -> tuple[list[str], str]:
    """(texts to embed, text for BM25): the question alone, and with the last user turns when there are any."""
    turns = [t.strip() for t in history if t and t.strip()][-HISTORY_TURNS:]
    if not turns:
        return [question], question
    together = "\n".join([*turns, question])
    return [question, together], together


def search_many(loaded: LoadedIndex, queries: list[tuple[str, list[str]]], *, top_k: int) -> list[Retrieval]:
    """``loaded.search`` for many (question, earlier user turns) at once, each exactly as ``retrieve`` queries it
    (``query_texts``); the texts are embedded in one call. For the evaluation and the fine-tune's prompts."""
    from inference.knowledge.embedder import embed

    if not len(loaded):
        return [Retrieval([], 0.0) for _ in queries]
    built = [query_texts(question, history) for question, history in queries]
    vectors = embed([text for texts, _ in built for text in texts])
    found, start = [], 0
    for texts, lexical in built:
        found.append(loaded.search(vectors[start:start + len(texts)], lexical, top_k=top_k))
        start += len(texts)
    return found


def retrieve(index, *, question: str, history: list[str] | None = None, top_k: int = 4) -> Retrieval:
    """The ``top_k`` passages of a ready ``index`` for ``question`` (and the conversation before it). Blocks."""
    from inference.knowledge.embedder import embed

    loaded = index_cache().get(index)
    if not len(loaded):
        return Retrieval([], 0.0)
    texts, lexical = query_texts(question, history or [])
    return loaded.search(embed(texts, threads=1), lexical, top_k=top_k)
