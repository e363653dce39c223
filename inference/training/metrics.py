"""Text-overlap scores against reference outputs: corpus BLEU and ROUGE-1/ROUGE-L, on a 0–100 scale.

Small pure functions on lower-cased word tokens, so the report needs no extra package and every score
can be checked by hand. BLEU follows Papineni et al. (2002): clipped n-gram precisions up to 4-grams,
geometric mean, brevity penalty over the corpus; a zero count is smoothed to 0.1 (Chen & Cherry's
method 1) so one missing 4-gram does not zero a short corpus, but no word in common scores 0.
ROUGE follows Lin (2004): F1 of unigram overlap (ROUGE-1) and of the longest common subsequence
(ROUGE-L), averaged over the pairs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"\w+", re.UNICODE)
SMOOTHING = 0.1


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(candidates: Sequence[str], references: Sequence[str], *, max_n: int = 4) -> float:
    """BLEU of the candidates against one reference each, 0–100."""
    if len(candidates) != len(references):
        raise ValueError("corpus_bleu needs one reference per candidate.")
    matches = [0] * max_n
    totals = [0] * max_n
    candidate_length = reference_length = 0
    for candidate, reference in zip(candidates, references, strict=True):
        cand, ref = words(candidate), words(reference)
        candidate_length += len(cand)
        reference_length += len(ref)
        for n in range(1, max_n + 1):
            cand_ngrams, ref_ngrams = ngrams(cand, n), ngrams(ref, n)
            matches[n - 1] += sum(min(count, ref_ngrams[gram]) for gram, count in cand_ngrams.items())
            totals[n - 1] += max(len(cand) - n + 1, 0)
    if candidate_length == 0 or matches[0] == 0:
        return 0.0  # not one word in common: smoothing must not invent a score
    log_precision = 0.0
    for matched, total in zip(matches, totals, strict=True):
        if total == 0:
            return 0.0  # every candidate is shorter than n words
        log_precision += math.log((matched or SMOOTHING) / total)
    brevity = 1.0 if candidate_length > reference_length else math.exp(1 - reference_length / candidate_length)
    return 100 * brevity * math.exp(log_precision / max_n)


def _f1(overlap: int, candidate_count: int, reference_count: int) -> float:
    if overlap == 0:
        return 0.0
    precision, recall = overlap / candidate_count, overlap / reference_count
    return 2 * precision * recall / (precision + recall)


def rouge_1(candidate: str, reference: str) -> float:
    """Unigram-overlap F1 of one pair, 0–100."""
    cand, ref = Counter(words(candidate)), Counter(words(reference))
    overlap = sum((cand & ref).values())
    return 100 * _f1(overlap, sum(cand.values()), sum(ref.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (one row of the table at a time)."""
    previous = [0] * (len(b) + 1)
    for item in a:
        current = [0]
        for j, other in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if item == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """Longest-common-subsequence F1 of one pair, 0–100."""
    cand, ref = words(candidate), words(reference)
    return 100 * _f1(lcs_length(cand, ref), len(cand), len(ref))


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
