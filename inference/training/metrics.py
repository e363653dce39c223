"""Text-overlap scores against reference outputs, from the libraries published numbers come from; 0–100.

BLEU is sacrebleu's corpus BLEU with its defaults (13a tokenisation, case-sensitive, exponential
smoothing), the figure papers report with sacrebleu's signature. ROUGE-1 and ROUGE-L are Google's
rouge-score (the reference re-implementation of Lin, 2004) with Porter stemming: the F1 of each pair,
averaged over the pairs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import sacrebleu
from rouge_score import rouge_scorer


@functools.cache
def _rouge() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)


def corpus_bleu(candidates: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu's corpus BLEU of the candidates against one reference each, 0–100."""
    if len(candidates) != len(references):
        raise ValueError("corpus_bleu needs one reference per candidate.")
    return sacrebleu.corpus_bleu(list(candidates), [list(references)]).score


def rouge_1(candidate: str, reference: str) -> float:
    """ROUGE-1 F1 (unigram overlap) of one pair, 0–100."""
    return 100 * _rouge().score(reference, candidate)["rouge1"].fmeasure


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (longest common subsequence) of one pair, 0–100."""
    return 100 * _rouge().score(reference, candidate)["rougeL"].fmeasure


def text_scores(candidates: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """BLEU over the corpus, ROUGE-1 and ROUGE-L averaged over the pairs; all 0–100, rounded."""
    if not candidates:
        return {"bleu": 0.0, "rouge1": 0.0, "rougeL": 0.0}
    pairs = list(zip(candidates, references, strict=True))
    return {
        "bleu": round(corpus_bleu(candidates, references), 2),
        "rouge1": round(sum(rouge_1(c, r) for c, r in pairs) / len(pairs), 2),
        "rougeL": round(sum(rouge_l(c, r) for c, r in pairs) / len(pairs), 2),
    }
