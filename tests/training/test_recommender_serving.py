"""Serving a trained recommender (inference/training/recommender/model.py): the top 10 with reasons for a user under
rules, a user limited to one category, a session and an item's similar items, pinned to what the exhaustive
ranking gave before the serving path was made faster (commit ca5aac4: every score scaled and blended in full
copies, rules applied to full-length arrays). Scores are compared to the 3 decimals a person sees."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from inference.training.recommender.model import QUANTIZED_FROM, AlsSettings, Recommender

CATEGORIES = ("Tents", "Boots", "Stoves", "")


def _random_history(rng: np.random.Generator, users: int, items: int, *, fewest: int) -> sp.csr_matrix:
    """Each user chose ``fewest``–12 distinct items once (weight log1p(1), as the trainer stores one purchase)."""
    rows, cols = [], []
    for user in range(users):
        chosen = rng.choice(items, int(rng.integers(fewest, 13)), replace=False)
        rows += [user] * len(chosen)
        cols += chosen.tolist()
    history = sp.csr_matrix((np.full(len(rows), np.log1p(1.0), np.float32), (rows, cols)), shape=(users, items))
    history.sort_indices()
    return history


def fixture_model() -> Recommender:
    """400 items, 60 users with 3 to 12 items each: seeded arrays (no fit, so nothing depends on BLAS's training
    arithmetic), the embeddings rounded through float16 as a saved artifact's are."""
    rng = np.random.default_rng(2024)
    items, users, factors = 400, 60, 8
    item_factors = rng.standard_normal((items, factors)).astype(np.float32)
    user_factors = rng.standard_normal((users, factors)).astype(np.float32)
    embeddings = rng.standard_normal((items, 32)).astype(np.float32)
    embeddings = (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)).astype(np.float16).astype(np.float32)
    history = _random_history(rng, users, items, fewest=3)
    cards = [{"title": f"Item {i}", "category": CATEGORIES[i % 4]} for i in range(items)]
    return Recommender(item_ids=[f"sku-{i}" for i in range(items)], user_ids=[f"c{u}" for u in range(users)],
                       item_factors=item_factors, user_factors=user_factors, embeddings=embeddings,
                       popularity=np.bincount(history.indices, minlength=items).astype(np.float32), history=history,
                       items=cards, weight=0.6, settings=AlsSettings(factors=factors))


QUERIES = {
    "user with rules": ({"user": "c7"}, {"exclude_ids": ["sku-5", "sku-17", "sku-230"],
                                         "boost_ids": ["sku-88", "sku-301"], "pin_ids": ["sku-42"]}),
    "user in one category": ({"user": "c31"}, {"category": "boots"}),
    "session": ({"items": ["sku-3", "sku-150", "sku-222", "sku-390", "sku-11"]}, {}),
    "similar items": ({"item": "sku-64"}, {}),
}

# What commit ca5aac4's exhaustive ranking returned for QUERIES, (id, score, reason) best first.
EXPECTED = {
    'user with rules': [
        ('sku-42', 0.678, 'Pinned by the shop'),
        ('sku-211', 0.926, 'Because you liked Item 357'),
        ('sku-224', 0.924, 'Because you liked Item 357'),
        ('sku-88', 0.876, 'Because you liked Item 349 · promoted by the shop'),
        ('sku-161', 0.837, 'Because you liked Item 12'),
        ('sku-367', 0.833, 'Because you liked Item 357'),
        ('sku-257', 0.831, 'Because you liked Item 327'),
        ('sku-41', 0.811, 'Because you liked Item 12'),
        ('sku-58', 0.808, 'Because you liked Item 357'),
        ('sku-65', 0.785, 'Because you liked Item 357'),
    ],
    'user in one category': [
        ('sku-145', 0.842, 'Because you liked Item 391'),
        ('sku-201', 0.796, 'Because you liked Item 148'),
        ('sku-165', 0.775, 'Because you liked Item 251'),
        ('sku-261', 0.741, 'Because you liked Item 391'),
        ('sku-233', 0.73, 'Because you liked Item 391'),
        ('sku-357', 0.729, 'Similar to Item 301: both are boots'),
        ('sku-281', 0.726, 'Because you liked Item 391'),
        ('sku-197', 0.707, 'Because you liked Item 391'),
        ('sku-21', 0.693, 'Because you liked Item 391'),
        ('sku-153', 0.686, 'Because you liked Item 391'),
    ],
    'session': [
        ('sku-41', 0.98, 'Because you liked Item 150'),
        ('sku-1', 0.811, 'Because you liked Item 150'),
        ('sku-228', 0.803, 'Because you liked Item 222'),
        ('sku-143', 0.793, 'Because you liked Item 222'),
        ('sku-22', 0.772, 'Because you liked Item 390'),
        ('sku-268', 0.764, 'Similar to Item 222'),
        ('sku-365', 0.762, 'Because you liked Item 150'),
        ('sku-357', 0.762, 'Because you liked Item 11'),
        ('sku-235', 0.753, 'Because you liked Item 150'),
        ('sku-124', 0.752, 'Because you liked Item 390'),
    ],
    'similar items': [
        ('sku-270', 0.954, 'Customers who chose Item 64 also chose this'),
        ('sku-54', 0.851, 'Customers who chose Item 64 also chose this'),
        ('sku-142', 0.845, 'Similar to Item 64'),
        ('sku-25', 0.834, 'Similar to Item 64'),
        ('sku-171', 0.832, 'Similar to Item 64'),
        ('sku-356', 0.826, 'Customers who chose Item 64 also chose this'),
        ('sku-52', 0.793, 'Similar to Item 64: both are tents'),
        ('sku-138', 0.791, 'Similar to Item 64'),
        ('sku-296', 0.776, 'Customers who chose Item 64 also chose this'),
        ('sku-7', 0.774, 'Customers who chose Item 64 also chose this'),
    ],
}


@pytest.fixture(scope="module")
def model() -> Recommender:
    return fixture_model()


@pytest.mark.parametrize("name", QUERIES)
def test_top_10_with_reasons_is_what_the_exhaustive_ranking_gave(model, name):
    query, rules = QUERIES[name]

    result = model.recommend(query, k=10, rules=model.rules(**rules))

    assert [(item["id"], item["reason"]) for item in result["items"]] == [(i, r) for i, _, r in EXPECTED[name]]
    assert [item["score"] for item in result["items"]] == pytest.approx([s for _, s, _ in EXPECTED[name]], abs=1e-3)
    assert "fallback" not in result


def test_a_users_own_items_and_excluded_items_never_come_back_and_a_second_call_gives_the_same(model):
    history = {model.item_ids[i] for i in model.user_items(model.user_index("c7"))}
    query, rules = QUERIES["user with rules"]

    first = model.recommend(query, k=50, rules=model.rules(**rules))
    second = model.recommend(query, k=50, rules=model.rules(**rules))

    ids = [item["id"] for item in first["items"]]
    assert len(ids) == 50 and not history & set(ids) and not {"sku-5", "sku-17", "sku-230"} & set(ids)
    assert first == second  # the per-model caches (masks, popularity) are not changed by a request


def large_model() -> Recommender:
    """A catalog of QUANTIZED_FROM items, so requests read the int8 embeddings first; a tenth of the items are
    copies of another's embedding (content ties) and every title is its id, so answers compare by value."""
    rng = np.random.default_rng(7)
    items, users, factors, dims = QUANTIZED_FROM, 40, 8, 64
    embeddings = rng.standard_normal((items, dims)).astype(np.float32)
    copies = rng.choice(items, items // 10, replace=False)
    embeddings[copies] = embeddings[rng.choice(items, len(copies))]
    embeddings = (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)).astype(np.float16).astype(np.float32)
    history = _random_history(rng, users, items, fewest=1)
    return Recommender(item_ids=[f"sku-{i}" for i in range(items)], user_ids=[f"c{u}" for u in range(users)],
                       item_factors=rng.standard_normal((items, factors)).astype(np.float32),
                       user_factors=rng.standard_normal((users, factors)).astype(np.float32), embeddings=embeddings,
                       popularity=np.bincount(history.indices, minlength=items).astype(np.float32), history=history,
                       items=[{"title": f"Item {i}", "category": CATEGORIES[i % 4]} for i in range(items)],
                       weight=0.4, settings=AlsSettings(factors=factors))


def exhaustive(model: Recommender, user: str, k: int, rules) -> tuple[list[str], np.ndarray, list[int]]:
    """(pinned ids, every item's float32 score after boosts, the best others) from the model's own full scoring."""
    index = model.user_index(user)
    history = model.user_items(index)
    mask = model.candidates(exclude=[*rules.exclude, *history.tolist()], category=rules.category)
    if len(history) >= 3:
        scores = model.hybrid_scores(model.user_factors[index], history, mask)[0]
    else:
        scores = model.short_history_scores(history, mask)
    pinned, best = model.ranked(scores, mask, k, rules)
    return [model.item_ids[i] for i in pinned], scores, best.tolist()


@pytest.mark.parametrize("rules", [{}, {"category": "tents"},
                                   {"exclude_ids": [f"sku-{i}" for i in range(0, 20_000, 7)],
                                    "boost_ids": [f"sku-{i}" for i in range(3, 20_000, 97)],
                                    "pin_ids": ["sku-11", "sku-12"]}], ids=["none", "category", "rules"])
def test_a_large_catalog_ranks_as_the_float32_scores_of_every_item_do(rules):
    """The same pinned items, then items whose float32 scores are the best ones, in order, as the cards say them;
    items with exactly the same score (boosted ones capped at 1) may come in either order."""
    model = large_model()
    assert model.quantized() is not None

    for user in model.user_ids:
        served = model.recommend({"user": user}, k=10, rules=model.rules(**rules))["items"]
        pinned, scores, best = exhaustive(model, user, 10, model.rules(**rules))
        ids = [item["id"] for item in served]
        assert ids[:len(pinned)] == pinned
        rest = [model.item_index(i) for i in ids[len(pinned):]]
        assert scores[rest].tolist() == scores[best].tolist() and len(set(ids)) == len(ids)
        assert [item["score"] for item in served[len(pinned):]] == [round(float(scores[i]), 3) for i in best]
