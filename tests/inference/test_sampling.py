from __future__ import annotations

import torch

from inference.engines.base import GenerationParams
from inference.engines.sampling import (
    Sampler,
    apply_repetition_penalty,
    apply_temperature,
    sample_batch,
    top_k_filter,
    top_p_filter,
)

NEG_INF = float("-inf")


def test_greedy_sampler_picks_the_largest_logit_when_temperature_is_zero():
    sampler = Sampler(GenerationParams(temperature=0.0))

    assert sampler(torch.tensor([0.1, 3.0, 2.9, -1.0]), set()) == 1


def test_top_k_filter_keeps_exactly_the_k_largest_logits():
    filtered = top_k_filter(torch.tensor([1.0, 4.0, 3.0, 2.0]), 2)

    assert filtered.tolist() == [NEG_INF, 4.0, 3.0, NEG_INF]


def test_top_k_filter_keeps_everything_when_k_is_zero():
    logits = torch.tensor([1.0, 4.0, 3.0])

    assert top_k_filter(logits, 0) is logits


def test_top_p_filter_keeps_the_smallest_set_reaching_p():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))

    kept = top_p_filter(logits, 0.75).isfinite().tolist()

    assert kept == [True, True, False, False]


def test_top_p_filter_always_keeps_the_most_likely_token_even_for_tiny_p():
    logits = torch.log(torch.tensor([0.2, 0.7, 0.1]))

    assert top_p_filter(logits, 0.01).isfinite().tolist() == [False, True, False]


def test_repetition_penalty_divides_positive_and_multiplies_negative_scores_of_seen_tokens():
    logits = torch.tensor([2.0, -2.0, 2.0])

    penalised = apply_repetition_penalty(logits, {0, 1}, 2.0)

    assert penalised.tolist() == [1.0, -4.0, 2.0]
    assert logits.tolist() == [2.0, -2.0, 2.0]  # the input is left untouched


def test_temperature_scales_logits():
    assert apply_temperature(torch.tensor([2.0, 4.0]), 0.5).tolist() == [4.0, 8.0]


def test_samplers_with_the_same_seed_draw_the_same_tokens():
    params = GenerationParams(temperature=1.0, top_p=1.0, seed=7)
    logits = torch.zeros(1000)
    first, second = Sampler(params), Sampler(params)

    draws = [first(logits, set()) for _ in range(20)]

    assert draws == [second(logits, set()) for _ in range(20)]
    assert len(set(draws)) > 1


def test_sampler_never_picks_a_token_removed_by_top_k():
    sampler = Sampler(GenerationParams(temperature=1.0, top_k=2, top_p=1.0, seed=0))
    logits = torch.tensor([5.0, 4.9, -1.0, -1.0, 0.0])

    assert {sampler(logits, set()) for _ in range(50)} <= {0, 1}


def test_sample_batch_uses_one_argmax_for_greedy_rows_and_samples_the_others():
    logits = torch.tensor([[0.0, 9.0, 1.0], [9.0, 0.0, 0.0]])
    greedy = Sampler(GenerationParams(temperature=0.0))
    forced = Sampler(GenerationParams(temperature=1.0, top_k=1, seed=1))

    assert sample_batch(logits, [greedy, greedy], [set(), set()]) == [1, 0]
    assert sample_batch(logits, [greedy, forced], [set(), set()]) == [1, 0]


def test_greedy_picks_the_first_of_tied_largest_logits_on_every_path_like_torch():
    rows = torch.tensor([[1.0, 5.0, 5.0, 0.0], [7.0, 7.0, 7.0, 7.0], [0.0, -1.0, 2.0, 2.0]])
    greedy = Sampler(GenerationParams(temperature=0.0))

    expected = rows.argmax(dim=-1).tolist()
    assert expected == [1, 0, 2]
    assert sample_batch(rows, [greedy] * 3, [set()] * 3) == expected  # numpy over the tensor's memory
    assert sample_batch(rows.double(), [greedy] * 3, [set()] * 3) == expected  # torch's own argmax
    assert [greedy(row, set()) for row in rows] == expected
