"""Hybrid retrieval with the real MiniLM over indexes built on PostgreSQL: the right passage first for a
paraphrase, follow-ups through the conversation, the default threshold measured on the shipped store FAQ,
fusion and the in-memory LRU."""

from __future__ import annotations

import numpy as np
import pytest

from inference.knowledge.search import (
    DEFAULT_THRESHOLD,
    IndexCache,
    LoadedIndex,
    index_cache,
    query_texts,
    retrieve,
    rrf,
)
from tests.inference.knowledge import built_index, knowledge_version, store_faq_version

pytestmark = pytest.mark.django_db(transaction=True)

#: Paraphrases of store_faq.csv questions (none copies the FAQ's wording) → the FAQ row that answers each.
ANSWERABLE = [
    ("What time does your customer service open on Saturdays?", "What are your opening hours?"),
    ("What do I pay for delivery?", "How much does shipping cost?"),
    ("How many days until my parcel arrives?", "How long does delivery take?"),
    ("Can you send orders to Norway?", "Do you ship internationally?"),
    ("Where do I find the tracking number of my package?", "How can I track my order?"),
    ("I want my money back for a sweater, how long do I have?", "What is your return policy?"),
    ("Is sending a return back to you free of charge?", "Are returns free?"),
    ("Can I use PayPal?", "Which payment methods do you accept?"),
    ("Is it possible to split the payment into several parts?", "Can I pay in instalments?"),
    ("Can you wrap my order as a present?", "Do you offer gift wrapping?"),
    ("The vase was broken when it arrived", "My item arrived damaged. What should I do?"),
    ("Does the skillet work on an induction hob?", "Is the cast iron skillet suitable for induction?"),
    ("Can I put the wool blanket in the washing machine?", "Is the wool throw machine washable?"),
    ("Is there a shop I can visit in person?", "Do you have a physical store?"),
    ("How long is the guarantee on your products?", "Do you offer a warranty?"),
]
#: Clearly off-topic for a home-goods shop's FAQ.
OFF_TOPIC = [
    "Who won the football world cup in 2014?",
    "What is the capital of Australia?",
    "How do I solve a quadratic equation?",
    "Write me a poem about the moon.",
    "What is the boiling point of mercury?",
    "Who painted the Mona Lisa?",
    "How many moons does Jupiter have?",
    "Explain the rules of cricket.",
    "What is the best programming language for machine learning?",
    "How tall is Mount Everest?",
]


@pytest.fixture
def team_and_owner(make_team):
    team = make_team("Shop")
    return team, team.memberships.get().user


@pytest.fixture
def store_faq(team_and_owner):
    index_cache().clear()
    return built_index(store_faq_version(*team_and_owner))


def test_a_paraphrased_question_finds_the_faq_entry_that_answers_it_first(store_faq):
    misses = []
    for question, expected in ANSWERABLE:
        found = retrieve(store_faq, question=question, top_k=3)
        if found.hits[0].title != expected:
            misses.append((question, expected, [h.title for h in found.hits]))
    assert not misses


def test_the_default_threshold_answers_every_paraphrase_and_abstains_on_every_off_topic_question(store_faq):
    answerable = [retrieve(store_faq, question=q, top_k=1).best_score for q, _ in ANSWERABLE]
    off_topic = [retrieve(store_faq, question=q, top_k=1).best_score for q in OFF_TOPIC]
    print(f"\nstore_faq.csv best dense cosine: answerable min {min(answerable):.3f} "
          f"(mean {np.mean(answerable):.3f}), off-topic max {max(off_topic):.3f} (mean {np.mean(off_topic):.3f})")
    assert min(answerable) >= DEFAULT_THRESHOLD > max(off_topic)


def test_a_follow_up_finds_its_passage_through_the_earlier_question(team_and_owner):
    index_cache().clear()
    index = built_index(knowledge_version(*team_and_owner))

    alone = retrieve(index, question="and how much is express?", top_k=3)
    after_shipping = retrieve(index, question="and how much is express?",
                              history=["How much does shipping cost?"], top_k=3)
    after_repair = retrieve(index, question="and how much is express?",
                            history=["How long does a repair of my coffee machine take?"], top_k=3)

    # "Express" means three things in this help centre: the conversation says which.
    assert alone.hits[0].title == after_shipping.hits[0].title == "Shipping costs"
    assert after_repair.hits[0].title == "Repair service"
    # A new topic after a shipping question is not dragged back to shipping.
    switched = retrieve(index, question="How do I wash linen sheets?", history=["How much does shipping cost?"],
                        top_k=1)
    assert switched.hits[0].title == "Caring for linen"


def test_hits_carry_their_chunk_and_the_dense_cosine_and_the_best_score_is_the_best_cosine(store_faq):
    found = retrieve(store_faq, question="Can I pay with PayPal?", top_k=4)
    top = found.hits[0]
    assert len(found.hits) == 4 and top.title == "Which payment methods do you accept?"
    assert top.source_row == 11 and top.text.startswith("Which payment methods do you accept?\nWe accept Visa")
    assert found.best_score == max(h.score for h in found.hits) and 0 < found.best_score <= 1
    assert top.dense_rank is not None and top.bm25_rank is not None


def test_reciprocal_rank_fusion_rewards_items_both_rankings_agree_on_and_weighs_them():
    assert rrf([[1, 2, 3], [4, 2, 5]], k=60) == [2, 1, 4, 3, 5]
    assert rrf([[5], []]) == [5]
    # A lexical match is worth a fraction of a dense rank: the top one lifts an item past a close dense
    # neighbour, not from the bottom to the top; where the two tie, dense's order wins.
    assert rrf([[1, 2, 3], [2]], weights=[1.0, 0.25], k=3) == [2, 1, 3]
    assert rrf([[1, 2, 3], [3]], weights=[1.0, 0.25], k=3) == [1, 3, 2]
    assert rrf([[1, 2, 3, 4, 5, 6], [6]], weights=[1.0, 0.25], k=3) == [1, 2, 6, 3, 4, 5]
    assert rrf([[1, 2, 3], [2]], weights=[1.0, 0.2], k=3) == [1, 2, 3]


def test_query_texts_read_the_last_two_user_turns_with_the_question():
    assert query_texts("and express?", []) == (["and express?"], "and express?")
    texts, lexical = query_texts("and express?", ["hi", "What does shipping cost?", "to Norway?"])
    assert texts == ["and express?", "What does shipping cost?\nto Norway?\nand express?"]
    assert lexical == texts[1]


def test_the_cache_drops_the_least_recently_used_index_past_its_budget(team_and_owner, django_assert_num_queries):
    team, owner = team_and_owner
    first = built_index(knowledge_version(team, owner, name="Help A"))
    second = built_index(knowledge_version(team, owner, name="Help B"))
    cache = IndexCache(budget_bytes=1)  # smaller than any index: only the latest one stays
    cache.get(first)
    with django_assert_num_queries(0):
        assert len(cache.get(first)) == 7  # loaded once, then served from memory
    cache.get(second)
    assert second.pk in cache and first.pk not in cache


def test_an_empty_loaded_index_finds_nothing():
    empty = LoadedIndex(ids=[], positions=[], titles=[], texts=[], source_rows=[], matrix=np.zeros((0, 384)))
    found = empty.search(np.ones((1, 384), dtype=np.float32), "anything", top_k=3)
    assert (found.hits, found.best_score) == ([], 0.0)


def test_an_index_whose_chunks_are_only_stop_words_loads_and_finds_them_by_meaning():
    quotes = LoadedIndex(ids=[1, 2], positions=[0, 1], titles=["", ""], source_rows=[1, 2],
                         texts=["To be or not to be", "Is it? It was."], matrix=np.eye(2, 384))
    found = quotes.search(np.eye(1, 384, 1, dtype=np.float32), "was it?", top_k=2)
    assert found.hits[0].id == 2 and found.best_score == pytest.approx(1.0)
    assert quotes.bm25_top("was it?", 2).tolist() == []


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_the_float16_screen_finds_exactly_the_chunks_order_and_cosines_of_a_full_exact_search():
    rng = np.random.default_rng(7)
    vectors = _unit(rng.standard_normal((5000, 384)))
    vectors[[4000, 4500]] = vectors[3000]  # duplicate chunks: equal cosines, lower position first
    near = _unit(vectors[3000] + 0.02 * rng.standard_normal((60, 384)))  # a crowd of near-equal scores
    vectors[1000:1060] = near
    index = LoadedIndex(ids=list(range(5000)), positions=list(range(5000)), titles=[""] * 5000,
                        texts=[f"chunk {i}" for i in range(5000)], source_rows=list(range(5000)), matrix=vectors)
    queries = [_unit(rng.standard_normal((1, 384))), _unit(vectors[3000][None] + 0.01 * rng.standard_normal((1, 384))),
               _unit(rng.standard_normal((2, 384)))]  # a follow-up is two vectors: the better cosine counts
    for query in queries:
        every = index.dense_scores(query)  # every chunk, exact float32
        rows, cosines = index.dense_top(query, 50)
        expected = sorted(range(5000), key=lambda i: (-every[i], i))[:50]
        assert rows.tolist() == expected
        np.testing.assert_allclose(cosines, every[expected], rtol=0, atol=1e-6)
        found = index.search(query, "chunk", top_k=4)
        assert found.best_score == pytest.approx(float(every.max()), abs=1e-6)
    assert index.dense_top(queries[1], 3)[0].tolist() == [3000, 4000, 4500]


def test_ties_at_the_last_place_go_to_the_lower_position():
    tied = LoadedIndex(ids=[10, 11, 12, 13], positions=[0, 1, 2, 3], titles=[""] * 4,
                       texts=["red sofa", "lamp", "lamp", "lamp"], source_rows=[1, 2, 3, 4],
                       matrix=np.eye(4, 384)[[0, 1, 1, 1]])
    rows, _ = tied.dense_top(np.eye(1, 384, 1), 2)
    assert rows.tolist() == [1, 2]
    assert tied.bm25_top("lamp", 2).tolist() == [1, 2]


def test_bm25_matches_other_forms_of_a_word():
    index = LoadedIndex(ids=[1, 2, 3], positions=[0, 1, 2], titles=["", "", ""],
                        texts=["We refunded every cancelled order within five days.",
                               "Parcels are shipped by courier.", "Returning an item is free."],
                        source_rows=[1, 2, 3], matrix=np.eye(3, 384))
    assert index.bm25_top("How are refunds handled for cancellations?", 3).tolist() == [0]
    assert index.bm25_top("Do you charge for shipping?", 3).tolist() == [1]
    assert index.bm25_top("What about returns?", 3).tolist() == [2]
    assert index.bm25_top("What about the sofa?", 3).tolist() == []
