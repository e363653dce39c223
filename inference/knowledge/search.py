"""Hybrid retrieval over a knowledge index held in memory: exact dense cosine + BM25, fused by rank.

* **Dense**: the chunks' float16 embeddings, held as stored (one contiguous float16 matrix: 77 MB at 100k chunks
  × 384 dims); a question's cosines are exact float32 dot products, found in two steps. A float16 matrix-vector
  product on one torch thread screens every chunk: the product is memory-bound, and float16 reads half the
  bytes of float32 (100k chunks: ~6 ms against ~15 ms for numpy's float32 matvec, whose BLAS threads also fight
  the decode threads for two cores). Its result is off the exact cosine by a bound computed per question
  (``_screen_error``: float16 rounding of the query and of the result); every chunk within twice that bound of
  the 50th best screened score is rescored exactly in float32 (tens of rows), so the candidates, their order and
  their scores are the exact search's. No ANN index is needed at our sizes; faiss/usearch would come in above
  a few hundred thousand chunks.
* **Lexical**: BM25 (``bm25s``, English stop-words out, words stemmed by Snowball through PyStemmer) built in
  memory from the chunk texts when the index is loaded, not stored:
  it is a pure function of the texts already in the database, building it costs well under a second per 10k
  chunks (the benchmark prints it), and one source of truth means no files to keep in step across hosts.
* **Order** by weighted reciprocal-rank fusion of the two rankings: Σ weight / (RRF_K + rank). Measured on
  paraphrased questions of store_faq.csv (tests/benchmarks/bench_retrieval.py), the textbook RRF (k = 60,
  equal weights) put the right FAQ first for 6 of 15 where dense alone did 13: on a small knowledge base
  BM25's top hits for a reworded question are noise, and k = 60 makes every rank nearly equal. With k = 3
  and BM25 at 0.2 the fused order keeps dense's 13 / 15: BM25 then reorders neighbours only where dense
  and it agree on the better one (ties go to dense), a passage sharing the question's rare words (a product
  name, a code) among near-equal dense scores. (Those counts are from when it was chosen; bench_retrieval now
  prints 15 / 15 first for dense and for this fusion, 10 / 15 for k = 60.) On the SQuAD sample,
  ``bench_retrieval.py --squad`` cross-validates the fusion over held-out articles: the RRF settings it chooses
  there (k 2–3, BM25 at 0.5–1.0, no one of them in every fold) reach 0.954 recall@3 held out against this
  default's 0.945, but on store_faq.csv every BM25 weight above 0.2 at k = 3 (and k = 2 at 0.5) puts a wrong
  FAQ entry first for 2 to 5 of the 15 paraphrases (README).
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
    """One index in memory: ids, titles, texts, the float16 embedding matrix and its BM25."""

    def __init__(self, *, ids: list[int], positions: list[int], titles: list[str], texts: list[str],
                 source_rows: list[int], matrix: np.ndarray) -> None:
        import bm25s

        self.ids, self.positions, self.titles, self.texts, self.source_rows = ids, positions, titles, texts, source_rows
        # As stored (embedder.to_bytes): a float32 matrix given here is rounded exactly as storing it would be.
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float16)
        self.row_norm = _largest_row_norm(self.matrix)
        self.bm25 = None
        if texts:
            corpus = bm25s.tokenize([f"{t}\n{x}" for t, x in zip(titles, texts, strict=True)], stopwords="en",
                                    stemmer=_stemmer(), show_progress=False)
            if corpus.vocab:  # chunks of stop-words only ("To be or not to be") leave BM25 nothing; bm25s would raise
                self.bm25 = bm25s.BM25()
                self.bm25.index(corpus, show_progress=False)
        text_bytes = sum(len(t) + len(x) for t, x in zip(titles, texts, strict=True))
        # Vectors, texts (+ Python object overhead), BM25's sparse matrix (~ one int + one float per token).
        self.nbytes = self.matrix.nbytes + 2 * text_bytes + 100 * len(texts) + 2 * text_bytes

    def __len__(self) -> int:
        return len(self.ids)

    def dense_scores(self, queries: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Per chunk (of ``rows``, else every one), the best exact float32 cosine with any of the (unit-length)
        query vectors. ``search`` calls it for a few dozen rows; all of them is for evaluations on small indexes."""
        if not len(self):
            return np.zeros(0, dtype=np.float32)
        vectors = self.matrix if rows is None else self.matrix[rows]
        return (vectors.astype(np.float32) @ _as_queries(queries).T).max(axis=1)

    def dense_top(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the ``n`` best exact cosines, best first (ties: lower row first), and those cosines: the
        float16 screen, then the exact rescoring of the rows it cannot rule out (see the module doc)."""
        import torch

        from inference.knowledge.embedder import torch_threads

        queries = _as_queries(queries)
        halves = queries.astype(np.float16)
        with torch_threads(1):  # one thread: two of them on busy shared cores took 2-5x longer (bench_retrieval)
            matrix = torch.from_numpy(self.matrix)
            screened = torch.mv(matrix, torch.from_numpy(halves[0]))
            for half in halves[1:]:
                torch.maximum(screened, torch.mv(matrix, torch.from_numpy(half)), out=screened)
            screened = screened.float()
            n = min(n, len(self))
            kth = float(torch.topk(screened, n, sorted=False).values.min())
            error = _screen_error(queries, halves, self.row_norm)
            rows = torch.nonzero(screened >= kth - 2 * error).flatten().numpy() if np.isfinite(error) else \
                np.arange(len(self))
        exact = self.dense_scores(queries, rows)
        best = _top(exact, n)
        return rows[best], exact[best]

    def bm25_scores(self, text: str) -> np.ndarray:
        if self.bm25 is None:  # no chunks, or no word in them that is not a stop-word: dense search alone
            return np.zeros(len(self), dtype=np.float32)
        import bm25s

        tokens = bm25s.tokenize([text], stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)[0]
        known = [t for t in tokens if t in self.bm25.vocab_dict]
        if not known:
            return np.zeros(len(self), dtype=np.float32)
        return self.bm25.get_scores(known)

    def bm25_top(self, text: str, n: int) -> np.ndarray:
        """The rows of the ``n`` best positive BM25 scores, best first (ties: lower row first)."""
        scores = self.bm25_scores(text)
        matched = np.flatnonzero(scores > 0)  # usually a small share of the chunks: no partition of all of them
        return matched[_top(scores[matched], n)]

    def search(self, queries: np.ndarray, lexical_text: str, *, top_k: int) -> Retrieval:
        if not len(self):
            return Retrieval([], 0.0)
        dense_rows, dense = self.dense_top(queries, CANDIDATES)
        return fuse(self, queries, dense_rows, dense, self.bm25_top(lexical_text, CANDIDATES), top_k=top_k)


def _stemmer():
    """English Snowball stems for BM25, so "refunds" finds "refunded" (bench_retrieval --squad: BM25 alone
    recall@3 0.881 → 0.908). A new one per call: a PyStemmer object must not be shared between threads."""
    import Stemmer

    return Stemmer.Stemmer("english").stemWords


def _as_queries(queries: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.asarray(queries, dtype=np.float32))


def _largest_row_norm(matrix: np.ndarray, block: int = 8192) -> float:
    """max ‖row‖, a block at a time (no float32 copy of the whole matrix)."""
    norm = 0.0
    for start in range(0, len(matrix), block):
        rows = matrix[start:start + block].astype(np.float32)
        norm = max(norm, float(np.sqrt(np.einsum("ij,ij->i", rows, rows).max())))
    return norm


def _screen_error(queries: np.ndarray, halves: np.ndarray, row_norm: float) -> float:
    """A bound on |screened − exact cosine| for every chunk and query, each term doubled for safety: the query's
    float16 rounding (‖row‖ · ‖q16 − q‖), torch's float32 accumulation (d · 2⁻²⁴ · ‖row‖ · ‖q16‖), the float16
    result (2⁻¹¹ of |cosine| ≤ ‖row‖ · ‖q16‖), and float16's subnormal step."""
    rounded = float(np.linalg.norm(halves.astype(np.float64) - queries, axis=1).max())
    largest = row_norm * float(np.linalg.norm(halves.astype(np.float64), axis=1).max())
    accumulated = queries.shape[1] * 2.0**-24 * largest
    return 2 * (row_norm * rounded + accumulated + 2.0**-11 * (largest + accumulated)) + 1e-7


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` best scores, best first (ties: lower index first, so results are stable)."""
    n = min(n, len(scores))
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n < len(scores):
        # Every score tied with the n-th best goes into the sort, so that the lower index wins the last places
        # (argpartition alone picks among such ties arbitrarily).
        part = np.flatnonzero(scores >= np.partition(scores, len(scores) - n)[len(scores) - n])
    else:
        part = np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))][:n]


def rrf(rankings: list[list[int]], *, weights: list[float] | None = None, k: int = RRF_K) -> list[int]:
    """Reciprocal-rank fusion: items ordered by Σ weight / (k + rank) over the rankings they appear in; a tie
    goes to the item the first ranking (dense) put higher."""
    score: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking, 1):
            score[item] = score.get(item, 0.0) + weight / (k + rank)
    seen = {item: order for order, item in enumerate(score)}  # dicts keep insertion order: the first ranking's
    return sorted(score, key=lambda item: (-score[item], seen[item]))


def fuse(index: LoadedIndex, queries: np.ndarray, dense_rows: np.ndarray, dense: np.ndarray,
         lexical_rows: np.ndarray, *, top_k: int) -> Retrieval:
    """The fused ``top_k`` of the dense and lexical rankings (rows, best first; ``dense`` are the exact cosines of
    ``dense_rows``). A passage only BM25 ranked gets its exact cosine too."""
    dense_order = [int(i) for i in dense_rows]
    lexical_order = [int(i) for i in lexical_rows]
    dense_rank = {i: r for r, i in enumerate(dense_order, 1)}
    lexical_rank = {i: r for r, i in enumerate(lexical_order, 1)}
    chosen = rrf([dense_order, lexical_order], weights=[DENSE_WEIGHT, BM25_WEIGHT])[:top_k]
    cosine = dict(zip(dense_order, (float(s) for s in dense), strict=True))
    lexical_only = [i for i in chosen if i not in cosine]
    if lexical_only:
        cosine.update(zip(lexical_only, (float(s) for s in index.dense_scores(queries, np.array(lexical_only))),
                          strict=True))
    hits = [
        Hit(id=index.ids[i], position=index.positions[i], title=index.titles[i], text=index.texts[i],
            source_row=index.source_rows[i], score=cosine[i], dense_rank=dense_rank.get(i),
            bm25_rank=lexical_rank.get(i))
        for i in chosen
    ]
    return Retrieval(hits, float(dense[0]))


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
                       matrix=from_bytes(blobs, np.float16))


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
