"""The recommender's offline evaluation: a time-ordered hold-out, recall@k and NDCG@k, coverage, example users.

Each user's latest interactions are held out (``holdout_split``); a validation slice is carved the same way
out of what is left, before the hold-out is ever scored, and chooses the hybrid's weight, how much more a
user's latest items count (``RECENCIES``) and the item-item model's share of the collaborative part
(``NEIGHBOUR_SHARES``). NDCG is
scikit-learn's ``ndcg_score``; recall@k is hits over min(k, held-out items), as in most papers. Items a user
already chose in training are never recommended, so they are never counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import product

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import ndcg_score

from inference.training.recommender.model import SHORT_HISTORY_POPULARITY, AlsSettings, Recommender

K = 10
#: Users with fewer interactions than this keep them all for training (nothing to hold out fairly).
MIN_INTERACTIONS_TO_HOLD_OUT = 4
#: Held-out interactions per user at most (the benchmark's "last 10").
MAX_HELD_OUT = 10
WEIGHTS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)
#: ``Recommender.recency`` tried with every weight: 1.0 weighs a history's items alike, 0.5 halves each step back.
RECENCIES = (1.0, 0.85, 0.7, 0.5)
#: ``Recommender.neighbour_share`` tried with every recency and weight (0: ALS alone).
NEIGHBOUR_SHARES = (0.0, 0.25, 0.5)
METHODS = ("hybrid", "als", "content", "popularity")
METHOD_NAMES = {"hybrid": "Hybrid (trained)", "als": "Collaborative filtering (ALS, item-item)",
                "content": "Content similarity (MiniLM)", "popularity": "Popularity"}
#: The collaborative part's name when the validation slice gave the item-item model no share.
ALS_ALONE = "Collaborative filtering (ALS)"
#: ALS settings tried on the validation slice (each with every hybrid weight) when the data are small enough:
#: a few hundred users over-fit 32 factors and want a strong regularisation; a big log affords the defaults.
SEARCH_FACTORS = (8, 16, 32)
SEARCH_REGULARIZATION = (0.05, 0.5, 5.0)
SEARCH_ALPHA = (1.0, 4.0)
#: Interactions above which the run keeps its settings (18 more fits would cost minutes).
MAX_INTERACTIONS_TO_SEARCH = 200_000
BATCH_USERS = 256
#: Held-out users scored at most (evenly spread by id): enough for stable figures, seconds on a big catalog.
MAX_EVAL_USERS = 3_000


@dataclass(frozen=True)
class Split:
    """Interaction positions (into the time-ordered arrays) kept for training, and held out per user."""

    train: np.ndarray
    held_out: dict[int, np.ndarray]  # user → item indices


def holdout_split(users: np.ndarray, items: np.ndarray, order: np.ndarray, keep: np.ndarray | None = None, *,
                  last: int | None = None) -> Split:
    """Each user's latest interactions (by ``order``) held out: min(10, a quarter), for users with 4 or more.

    ``keep`` restricts the split to those positions (the validation slice is carved from the training part).
    ``last`` holds out exactly that many instead, for users with at least twice as many (the public benchmark's
    "each user's last 10": the rest keep everything for training).
    """
    positions = np.arange(len(users)) if keep is None else keep
    ranked = positions[np.lexsort((order[positions], users[positions]))]
    train, held = [], {}
    starts = np.flatnonzero(np.r_[True, users[ranked][1:] != users[ranked][:-1]])
    ends = np.r_[starts[1:], len(ranked)]
    for start, end in zip(starts, ends, strict=True):
        chunk = ranked[start:end]
        n = len(chunk)
        if last is not None:
            h = last if n >= 2 * last else 0
        else:
            h = min(MAX_HELD_OUT, n // 4) if n >= MIN_INTERACTIONS_TO_HOLD_OUT else 0
        train.append(chunk[: n - h])
        if h:
            trained_items = set(items[chunk[: n - h]].tolist())
            fresh = np.asarray(sorted(set(items[chunk[n - h:]].tolist()) - trained_items), dtype=np.int64)
            if len(fresh):  # re-buying what they already had is not something to predict
                held[int(users[chunk[0]])] = fresh
    if len(held) > MAX_EVAL_USERS:  # the others' latest interactions still stay out of training
        keys = sorted(held)
        held = {key: held[key] for key in keys[:: -(-len(keys) // MAX_EVAL_USERS)]}
    return Split(np.concatenate(train) if train else np.zeros(0, dtype=np.int64), held)


def _row_minmax(scores: np.ndarray, seen: np.ndarray) -> np.ndarray:
    masked = np.where(seen, np.nan, scores)
    low = np.nanmin(masked, axis=1, keepdims=True)
    high = np.nanmax(masked, axis=1, keepdims=True)
    span = np.where(high - low < 1e-12, 1.0, high - low)
    return (scores - low) / span


class BatchScores:
    """One batch of users' scores of every item, each part computed once and blended as the served paths do."""

    def __init__(self, model: Recommender, users: np.ndarray, seen: np.ndarray, histories: sp.csr_matrix,
                 recent_histories: sp.csr_matrix | None = None) -> None:
        self.model, self.users, self.seen = model, users, seen
        rows = histories[users]
        counts = np.maximum(np.diff(rows.indptr), 1)[:, None]
        binary = rows.copy()
        binary.data[:] = 1.0
        recent = None if recent_histories is None else recent_histories[users]
        # The content profile as ``Recommender.user_weights`` weighs it (recency), else each item alike.
        profile = recent @ model.embeddings if recent is not None else (binary @ model.embeddings) / counts
        self.near = None
        if model.neighbours is not None and model.neighbour_share:  # as ``Recommender.liked_row`` weighs a row
            liked = rows if recent is None else rows.multiply(recent).tocsr()
            self.near = _row_minmax((liked @ model.neighbours).toarray(), seen)
        profile /= np.linalg.norm(profile, axis=1, keepdims=True) + 1e-12
        self.content = _row_minmax(profile @ model.embeddings.T, seen)
        self.popularity = _row_minmax(np.broadcast_to(model.popularity_scores(), seen.shape), seen)
        self._als: np.ndarray | None = None

    @property
    def als(self) -> np.ndarray:
        if self._als is None:
            self._als = _row_minmax(self.model.user_factors[self.users] @ self.model.item_factors.T, self.seen)
            if self.near is not None:  # ``Recommender._collaborative``
                self._als = (1 - self.model.neighbour_share) * self._als + self.model.neighbour_share * self.near
        return self._als

    def of(self, method: str, weight: float | None = None) -> np.ndarray:
        if method == "content":
            return self.content
        if method == "popularity":
            return self.popularity
        if method == "short":
            return (1 - SHORT_HISTORY_POPULARITY) * self.content + SHORT_HISTORY_POPULARITY * self.popularity
        if method == "als":
            return self.als
        weight = self.model.weight if weight is None else weight
        return weight * self.als + (1 - weight) * self.content


def score_methods(model: Recommender, held_out: dict[int, np.ndarray], methods=METHODS,
                  weights: dict[str, float] | None = None, histories: sp.csr_matrix | None = None,
                  keep_top: bool = False) -> dict[str, dict]:
    """recall@10 and NDCG@10 of each method over the held-out users; top-10 lists when ``keep_top``.

    ``histories`` (the model's own by default, with its ``history_age``) replace what the users chose; other
    histories have no ages, so their content profile weighs each item alike (as the short-history path does)."""
    recent = None
    if histories is None and model.history_age is not None and model.recency < 1.0:  # once, not per batch
        recent = sp.csr_matrix((model.recency ** model.history_age.astype(np.float32), model.history.indices,
                                model.history.indptr), shape=model.history.shape)
    histories = model.history if histories is None else histories
    users = np.asarray(sorted(held_out), dtype=np.int64)
    results = {m: {"recall": [], "ndcg": [], "top": {}, "recommended": set()} for m in methods}
    for start in range(0, len(users), BATCH_USERS):
        batch = users[start:start + BATCH_USERS]
        seen = histories[batch].toarray() > 0
        truth = np.zeros(seen.shape, dtype=np.float32)
        for row, user in enumerate(batch):
            truth[row, held_out[int(user)]] = 1.0
        parts = BatchScores(model, batch, seen, histories, recent)
        for method in methods:
            scores = np.where(seen, -1e9, parts.of(method.removesuffix("@w"), (weights or {}).get(method)))
            best = np.argpartition(-scores, K - 1, axis=1)[:, :K]
            top = np.take_along_axis(best, np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1), axis=1)
            hits = np.take_along_axis(truth, top, axis=1).sum(axis=1)
            results[method]["recall"] += (hits / np.minimum(K, truth.sum(axis=1))).tolist()
            # NDCG@10 depends only on each row's top 10 and its held-out items: scikit-learn scores the columns
            # that are either for some user of the batch (the same figure, without sorting the whole catalog).
            columns = np.union1d(top.ravel(), np.flatnonzero(truth.any(axis=0)))
            ndcg = ndcg_score(truth[:, columns], scores[:, columns], k=K, ignore_ties=True)
            # scikit-learn averages over the batch: kept once per user of it, so the mean is over users.
            results[method]["ndcg"] += [float(ndcg)] * len(batch)
            results[method]["recommended"].update(top.ravel().tolist())
            if keep_top:
                results[method]["top"].update({int(u): top[i].tolist() for i, u in enumerate(batch)})
    return results


def choose_weight(model: Recommender, held_out: dict[int, np.ndarray]) -> tuple[float, list[dict]]:
    """The hybrid weight with the best NDCG@10 on the validation slice (at the model's ``recency``), and every
    weight's figures."""
    if not held_out:
        return 0.5, []
    methods = [f"{w}@w" for w in WEIGHTS]
    scored = score_methods(model, held_out, methods=methods, weights={f"{w}@w": w for w in WEIGHTS})
    table = [{"weight": w, "ndcg": float(np.mean(scored[f"{w}@w"]["ndcg"])),
              "recall": float(np.mean(scored[f"{w}@w"]["recall"]))} for w in WEIGHTS]
    best = max(table, key=lambda row: (row["ndcg"], -abs(row["weight"] - 0.5)))
    return best["weight"], table


@dataclass(frozen=True)
class Blend:
    """What the validation slice chose for the hybrid, and what it tried."""

    weight: float = 0.5
    recency: float = 1.0
    neighbour_share: float = 0.0
    weights: list[dict] = field(default_factory=list)  # the chosen recency and share's row per weight
    tried: list[dict] = field(default_factory=list)  # the best row per (recency, share)


def choose_blend(model: Recommender, held_out: dict[int, np.ndarray]) -> Blend:
    """The weight, recency and item-item share with the best validation NDCG@10; ties go to those tried first
    (every item alike, ALS alone). Without ``history_age`` every recency is the same and 1.0 stays; without
    ``neighbours``, ALS alone."""
    if not held_out:
        return Blend()
    tried = []
    recencies = RECENCIES if model.history_age is not None else (1.0,)
    shares = NEIGHBOUR_SHARES if model.neighbours is not None else (0.0,)
    for recency, share in product(recencies, shares):
        weight, table = choose_weight(replace(model, recency=recency, neighbour_share=share), held_out)
        best = next(row for row in table if row["weight"] == weight)
        tried.append((Blend(weight, recency, share, table), {"recency": recency, "neighbour_share": share} | best))
    chosen, _ = max(tried, key=lambda row: row[1]["ndcg"])
    return replace(chosen, tried=[row[1] for row in tried])


def choose_settings(fitted_on_validation: Callable[[AlsSettings], Recommender], base: AlsSettings,
                    held_out: dict[int, np.ndarray], *, interactions: int) -> tuple[AlsSettings, list[dict]]:
    """ALS's factors, regularisation and alpha with the best validation NDCG@10 (at its best hybrid weight).

    ``fitted_on_validation(settings)`` fits a model on the validation slice's training part. The run's
    ``base`` settings stay when there is no validation slice or the log is too big to search; its iterations
    and seed are kept either way. Ties go to the settings tried first (fewest factors, weakest regularisation).
    """
    if not held_out or interactions > MAX_INTERACTIONS_TO_SEARCH:
        return base, []
    table = []
    for factors, regularization, alpha in product(SEARCH_FACTORS, SEARCH_REGULARIZATION, SEARCH_ALPHA):
        settings = replace(base, factors=factors, regularization=regularization, alpha=alpha)
        weight, weights = choose_weight(fitted_on_validation(settings), held_out)
        best = next(row for row in weights if row["weight"] == weight)
        table.append({"factors": factors, "regularization": regularization, "alpha": alpha, "weight": weight,
                      "ndcg": best["ndcg"], "recall": best["recall"]})
    chosen = max(table, key=lambda row: row["ndcg"])
    return replace(base, factors=chosen["factors"], regularization=chosen["regularization"],
                   alpha=chosen["alpha"]), table


def summary(scored: dict[str, dict], *, items: int) -> dict[str, dict]:
    return {method: {"name": METHOD_NAMES.get(method, method), "recall_at_10": float(np.mean(r["recall"])),
                     "ndcg_at_10": float(np.mean(r["ndcg"])), "coverage": len(r["recommended"]) / items}
            for method, r in scored.items()}


def example_users(model: Recommender, held_out: dict[int, np.ndarray], top: dict[int, list[int]],
                  limit: int = 5) -> list[dict]:
    """A few held-out users: their latest history, the hybrid's top 10 and which of those they chose next."""
    users = sorted(held_out, key=lambda u: (-len(set(top.get(u, [])) & set(held_out[u].tolist())), u))[:limit]
    examples = []
    for user in sorted(users):
        chosen = set(held_out[user].tolist())
        history = model.user_items(user)
        examples.append({
            "user": model.user_ids[user],
            "history": [model.title(int(i)) for i in history[-5:]],
            "history_count": int(len(history)),
            "recommended": [{"title": model.title(i), "chosen": i in chosen} for i in top.get(user, [])],
            "chose_next": [model.title(int(i)) for i in held_out[user]],
        })
    return examples
