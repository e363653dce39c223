"""BLEU and ROUGE of the evaluation report, checked against sums done by hand."""

from __future__ import annotations

import math

import pytest

from inference.training.metrics import corpus_bleu, lcs_length, rouge_1, rouge_l, text_scores, words

CANDIDATE = "The cat sat on the mat."
REFERENCE = "the cat is on the mat"


def test_words_are_lower_case_without_punctuation():
    assert words("The cat, sat!") == ["the", "cat", "sat"]


def test_identical_texts_score_100_on_every_measure():
    assert text_scores([REFERENCE], [REFERENCE]) == {"bleu": 100.0, "rouge1": 100.0, "rougeL": 100.0}


def test_bleu_matches_the_hand_computed_clipped_precisions_with_smoothed_4_grams():
    # Matches: unigrams 5/6, bigrams 3/5, trigrams 1/4, 4-grams 0/3 (smoothed to 0.1/3); equal lengths: no penalty.
    expected = 100 * math.exp((math.log(5 / 6) + math.log(3 / 5) + math.log(1 / 4) + math.log(0.1 / 3)) / 4)
    assert corpus_bleu([CANDIDATE], [REFERENCE]) == pytest.approx(expected)


def test_bleu_clips_a_repeated_word_to_its_count_in_the_reference():
    # "the" seven times matches only the reference's two: unigram precision 2/7, and no longer n-grams match.
    clipped = corpus_bleu(["the the the the the the the"], ["the cat is on the mat ok"])
    expected = 100 * math.exp((math.log(2 / 7) + math.log(0.1 / 6) + math.log(0.1 / 5) + math.log(0.1 / 4)) / 4)
    assert clipped == pytest.approx(expected)


def test_bleu_penalises_a_candidate_shorter_than_its_reference():
    short = "the cat is on"
    reference = "the cat is on the mat"
    assert corpus_bleu([short], [reference]) == pytest.approx(100 * math.exp(1 - 6 / 4))


def test_bleu_of_a_candidate_without_4_grams_is_zero_and_of_nothing_is_zero():
    assert corpus_bleu(["the cat"], [REFERENCE]) == 0.0
    assert corpus_bleu([""], [REFERENCE]) == 0.0


def test_bleu_needs_one_reference_per_candidate():
    with pytest.raises(ValueError, match="one reference per candidate"):
        corpus_bleu(["a", "b"], ["a"])


def test_rouge_1_and_rouge_l_are_f1_of_word_overlap_and_of_the_longest_common_subsequence():
    # Overlap the×2, cat, on, mat = 5 of 6 words each way; the LCS "the cat on the mat" is also 5 long.
    assert rouge_1(CANDIDATE, REFERENCE) == pytest.approx(100 * 5 / 6)
    assert rouge_l(CANDIDATE, REFERENCE) == pytest.approx(100 * 5 / 6)
    # Order matters to ROUGE-L only: reversed, every word still overlaps but the LCS ("the on the") is 3 long.
    backwards = "mat the on is cat the"
    assert rouge_1(backwards, REFERENCE) == pytest.approx(100.0)
    assert rouge_l(backwards, REFERENCE) == pytest.approx(50.0)


def test_lcs_length_counts_a_subsequence_not_a_substring():
    assert lcs_length(list("abcbdab"), list("bdcaba")) == 4
    assert lcs_length([], ["a"]) == 0


def test_no_samples_and_texts_without_a_word_in_common_score_zero():
    assert text_scores([], []) == {"bleu": 0.0, "rouge1": 0.0, "rougeL": 0.0}
    assert text_scores(["alpha beta gamma delta"], ["one two three four"]) == {"bleu": 0.0, "rouge1": 0.0,
                                                                               "rougeL": 0.0}
