"""BLEU and ROUGE of the evaluation report: the libraries' published figures, on a 0–100 scale."""

from __future__ import annotations

import pytest

from inference.training.metrics import corpus_bleu, rouge_1, rouge_l, text_scores

CANDIDATE = "the cat sat on the mat"
REFERENCE = "the cat is on the mat"


def test_identical_texts_score_100_on_every_measure():
    assert text_scores([REFERENCE], [REFERENCE]) == {"bleu": 100.0, "rouge1": 100.0, "rougeL": 100.0}


def test_bleu_is_sacrebleus_score_of_the_textbook_sentence():
    # sacrebleu prints: BLEU = 37.99 83.3/60.0/25.0/16.7 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6);
    # the missing 4-gram is smoothed (exp) to 1/6 instead of zeroing the score.
    assert corpus_bleu([CANDIDATE], [REFERENCE]) == pytest.approx(37.99, abs=0.005)


def test_bleu_is_case_sensitive_and_counts_punctuation_as_published_bleu_does():
    # "The" is not "the" and "." is a token: BLEU = 26.27 57.1/33.3/20.0/12.5 (hyp_len = 7 ref_len = 6).
    assert corpus_bleu(["The cat sat on the mat."], [REFERENCE]) == pytest.approx(26.27, abs=0.005)


def test_bleu_penalises_a_candidate_shorter_than_its_reference():
    assert corpus_bleu(["the cat is on"], ["the cat is on the mat"]) == pytest.approx(60.65, abs=0.005)


def test_bleu_needs_one_reference_per_candidate():
    with pytest.raises(ValueError, match="one reference per candidate"):
        corpus_bleu(["a", "b"], ["a"])


def test_rouge_1_and_rouge_l_are_rouge_scores_f1_and_only_rouge_l_minds_the_order():
    assert rouge_1(CANDIDATE, REFERENCE) == pytest.approx(100 * 5 / 6)
    assert rouge_l(CANDIDATE, REFERENCE) == pytest.approx(100 * 5 / 6)
    backwards = "mat the on is cat the"
    assert rouge_1(backwards, REFERENCE) == pytest.approx(100.0)
    assert rouge_l(backwards, REFERENCE) == pytest.approx(50.0)


def test_rouge_stems_words_so_an_inflected_word_still_overlaps():
    assert rouge_1("the cats sitting", "the cat sits") == pytest.approx(100.0)


def test_no_samples_and_texts_without_a_word_in_common_score_zero():
    assert text_scores([], []) == {"bleu": 0.0, "rouge1": 0.0, "rougeL": 0.0}
    assert text_scores(["alpha beta gamma delta"], ["one two three four"]) == {"bleu": 0.0, "rouge1": 0.0,
                                                                               "rougeL": 0.0}
