"""Serving a trained recommender (inference/training/recommender/model.py): the top 10 with reasons for a user under
rules, a user limited to one category, a session and an item's similar items, pinned to what the exhaustive
ranking gave before the serving path was made faster (commit ca5aac4: every score scaled and blended in full
copies, rules applied to full-length arrays). Scores are compared to the 3 decimals a person sees."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from inference.training.recommender.model import QUANTIZED_FROM, AlsSettings, QuantizedEmbeddings, Recommender

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
    # Each user's items in a random time order, the latest weighing most in the content profile.
    ages = np.concatenate([rng.permutation(n) for n in np.diff(history.indptr)]).astype(np.int32)
    # An item-item model with 20 neighbours per item (as implicit keeps them), half the collaborative part.
    neighbours = sp.csr_matrix((rng.random(items * 20).astype(np.float32),
                                rng.integers(0, items, items * 20), np.arange(0, items * 20 + 1, 20)),
                               shape=(items, items))
    neighbours.sum_duplicates()
    return Recommender(item_ids=[f"sku-{i}" for i in range(items)], user_ids=[f"c{u}" for u in range(users)],
                       item_factors=rng.standard_normal((items, factors)).astype(np.float32),
                       user_factors=rng.standard_normal((users, factors)).astype(np.float32), embeddings=embeddings,
                       popularity=np.bincount(history.indices, minlength=items).astype(np.float32), history=history,
                       items=[{"title": f"Item {i}", "category": CATEGORIES[i % 4]} for i in range(items)],
                       weight=0.4, settings=AlsSettings(factors=factors), recency=0.7, history_age=ages,
                       neighbours=neighbours, neighbour_share=0.5)


def exhaustive(model: Recommender, user: str, k: int, rules) -> tuple[list[str], np.ndarray, list[int]]:
    """(pinned ids, every item's float32 score after boosts, the best others) from the model's own full scoring."""
    index = model.user_index(user)
    history = model.user_items(index)
    mask = model.candidates(exclude=[*rules.exclude, *history.tolist()], category=rules.category)
    if len(history) >= 3:
        weights = model.user_weights(index)
        liked = model.liked_row(model.history[index], weights)
        scores = model.hybrid_scores(model.user_factors[index], history, mask, profile_weights=weights,
                                     near=model.neighbour_scores(liked, mask))[0]
    else:
        scores = model.short_history_scores(history, mask)
    pinned, best = model.ranked(scores, mask, k, rules)
    return [model.item_ids[i] for i in pinned], scores, best.tolist()


@pytest.mark.parametrize("kernel", ["torch", "numpy"])
@pytest.mark.parametrize("rules", [{}, {"category": "tents"},
                                   {"exclude_ids": [f"sku-{i}" for i in range(0, 20_000, 7)],
                                    "boost_ids": [f"sku-{i}" for i in range(3, 20_000, 97)],
                                    "pin_ids": ["sku-11", "sku-12"]}], ids=["none", "category", "rules"])
def test_a_large_catalog_ranks_as_the_float32_scores_of_every_item_do(rules, kernel):
    """The same pinned items, then items whose float32 scores are the best ones, in order, as the cards say them;
    items with exactly the same score (boosted ones capped at 1) may come in either order. Both int8 passes: torch's
    kernel and numpy's (which one serves is chosen by speed on the host, so each is forced here)."""
    model = large_model()
    quantized = model.quantized()
    assert quantized is not None
    quantized._kernel["run"] = (quantized._checked_bf16_kernel(model.embeddings[0], require_faster=False)
                                if kernel == "torch" else None)
    assert (quantized._kernel["run"] is None) == (kernel == "numpy")

    for user in model.user_ids:
        served = model.recommend({"user": user}, k=10, rules=model.rules(**rules))["items"]
        pinned, scores, best = exhaustive(model, user, 10, model.rules(**rules))
        ids = [item["id"] for item in served]
        assert ids[:len(pinned)] == pinned
        rest = [model.item_index(i) for i in ids[len(pinned):]]
        assert scores[rest].tolist() == scores[best].tolist() and len(set(ids)) == len(ids)
        assert [item["score"] for item in served[len(pinned):]] == [round(float(scores[i]), 3) for i in best]


def two_tastes(recency: float) -> Recommender:
    """20 items of two kinds (0–9 and 10–19, their texts far apart); customer "u" chose 0, 1 and 2 long ago, then
    10 and 11 (11 last). Content only (weight 0), so the profile alone decides."""
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((2, 16))
    embeddings = (centres[np.arange(20) // 10] + 0.3 * rng.standard_normal((20, 16))).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    history = sp.csr_matrix((np.full(5, np.log1p(1.0), np.float32), ([0] * 5, [0, 1, 2, 10, 11])), shape=(1, 20))
    return Recommender(item_ids=[f"sku-{i}" for i in range(20)], user_ids=["u"],
                       item_factors=rng.standard_normal((20, 4)).astype(np.float32),
                       user_factors=rng.standard_normal((1, 4)).astype(np.float32), embeddings=embeddings,
                       popularity=np.ones(20, np.float32), history=history,
                       items=[{"title": f"Item {i}"} for i in range(20)], weight=0.0, settings=AlsSettings(factors=4),
                       recency=recency, history_age=np.array([4, 3, 2, 1, 0], np.int32))


def test_a_trained_recency_makes_a_customers_latest_choices_count_most():
    kinds = {}
    for recency in (1.0, 0.5):
        items = two_tastes(recency).recommend({"user": "u"}, k=5)["items"]
        kinds[recency] = {int(item["id"].removeprefix("sku-")) // 10 for item in items}
        if recency < 1:
            assert all(item["reason"] in ("Similar to Item 10", "Similar to Item 11") for item in items)
    assert kinds == {1.0: {0}, 0.5: {1}}  # alike: three old items outvote two; halved per step: the latest win


def test_a_sessions_latest_views_count_most_and_the_order_is_kept_through_a_saved_artifact(tmp_path):
    model = two_tastes(0.5)
    model.save(tmp_path)
    loaded = Recommender.load(tmp_path)

    for served in (model, loaded):
        later_second_kind = served.recommend({"items": ["sku-0", "sku-1", "sku-2", "sku-10", "sku-11"]}, k=5)
        later_first_kind = served.recommend({"items": ["sku-10", "sku-11", "sku-0", "sku-1", "sku-2"]}, k=5)
        assert {int(i["id"].removeprefix("sku-")) // 10 for i in later_second_kind["items"]} == {1}
        assert {int(i["id"].removeprefix("sku-")) // 10 for i in later_first_kind["items"]} == {0}
    assert loaded.recommend({"user": "u"}, k=5) == model.recommend({"user": "u"}, k=5)


def test_an_artifact_saved_before_recency_serves_every_item_alike(tmp_path):
    model = two_tastes(0.5)
    model.save(tmp_path)
    with np.load(tmp_path / "recommender.npz", allow_pickle=False) as arrays:
        older = {name: arrays[name] for name in arrays.files if name != "history_age"}
    np.savez(tmp_path / "recommender.npz", **older)
    meta = json.loads((tmp_path / "recommender.json").read_text())
    del meta["recency"]
    (tmp_path / "recommender.json").write_text(json.dumps(meta))

    loaded = Recommender.load(tmp_path)

    assert loaded.recency == 1.0 and loaded.history_age is None
    alike = two_tastes(1.0).recommend({"user": "u"}, k=5)["items"]
    served = loaded.recommend({"user": "u"}, k=5)["items"]  # float16 embeddings in the file: scores to ~1e-3
    assert [(i["id"], i["reason"]) for i in served] == [(i["id"], i["reason"]) for i in alike]
    assert [i["score"] for i in served] == pytest.approx([i["score"] for i in alike], abs=2e-3)


def test_an_item_the_item_item_model_gave_names_the_item_that_gave_it_most_and_survives_a_new_catalog(tmp_path):
    """Collaborative part from the item-item model alone: customer "u" (0, 1, 2 long ago, then 10, 11) gets the
    neighbours of what they chose, the one their latest choice points to first."""
    model = two_tastes(0.5)
    neighbours = sp.csr_matrix((np.array([0.9, 0.8, 0.9], np.float32), ([1, 11, 11], [15, 4, 16])), shape=(20, 20))
    model = Recommender(**{**model.__dict__, "weight": 1.0, "neighbours": neighbours, "neighbour_share": 1.0})
    model.save(tmp_path)

    for served in (model, Recommender.load(tmp_path)):
        items = served.recommend({"user": "u"}, k=3)["items"]
        assert [(i["id"], i["reason"]) for i in items] == [("sku-16", "Because you liked Item 11"),
                                                           ("sku-4", "Because you liked Item 11"),
                                                           ("sku-15", "Because you liked Item 1")]

    newer = model.with_catalog([*model.item_ids, "sku-new"], [*model.items, {"title": "New"}], model.embeddings[:1])
    assert newer.neighbours.shape == (21, 21)
    # The new item has no neighbours yet: it counts as the average candidate, as it does for ALS.
    assert [i["id"] for i in newer.recommend({"user": "u"}, k=3)["items"]] == ["sku-16", "sku-4", "sku-new"]


def test_torchs_int8_kernel_stays_within_the_bound_that_decides_which_items_are_scored_again():
    """The content pass of a large catalog (torch's int8 × bfloat16 kernel): every item's score is within the bound
    of the float32 ``embedding · profile``, and the bound's bfloat16 part covers what that kernel's rounding adds to
    the int8 codes' own score (which it does change), so the ranking tests' exact answers rest on it."""
    rng = np.random.default_rng(11)
    embeddings = rng.standard_normal((QUANTIZED_FROM, 384)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    quantized = QuantizedEmbeddings.of(embeddings)
    dequantized = quantized.codes.astype(np.float64) * quantized.scales[:, None].astype(np.float64)
    profiles = [embeddings[rng.choice(QUANTIZED_FROM, n)].mean(axis=0) for n in (1, 3, 12)]
    kernel = quantized._checked_bf16_kernel(profiles[0], require_faster=False)
    assert kernel is not None  # torch 2.13 has it (studio/__main__.py installs torch==2.13.0)

    for profile in profiles:
        scores, extra = kernel(profile)
        exact = embeddings.astype(np.float64) @ profile.astype(np.float64)
        assert np.all(np.abs(scores - exact) <= quantized.error * float(np.linalg.norm(profile)) + extra)
        rounding = np.abs(scores - dequantized @ profile.astype(np.float64))
        assert np.all(rounding <= extra) and rounding.max() > 0.1 * extra.max()
