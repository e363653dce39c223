"""Checks on a piece of marketing copy: which facts it uses, whether it ends cleanly, what it made up.

One source for the playground's "facts used" line and for tests/benchmarks/bench_copy_quality.py.
What a *required fact* is depends on the template: every line of a product's key features; the product
and its main benefit for a headline (which cannot carry every feature); the announcement's facts for a
post; for a subject line, the email's subject. A fact is *mentioned* when its numbers and names appear
verbatim (as whole words: "5" is not found in "250") and at least half of its other words appear by stem
(so "folds" matches "fold", "carries" "carrying" and "hand-oiled" "hand oiled"). A name is a capitalised
word after a line's first, or an acronym anywhere ("USB-C", "RFID", "XL").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,]\d+)*%?")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into", "is", "it",
    "its", "of", "on", "or", "our", "so", "that", "the", "their", "this", "to", "was", "were", "will", "with",
    "you", "your", "we", "all", "any", "can", "more", "most", "new", "no", "not", "only", "out", "up", "very",
    "just", "than", "then", "them", "they",
))
URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|net|org|io|co|shop|store)\b", re.IGNORECASE)
HASHTAG = re.compile(r"(?<![\w&])#\w+")
HANDLE = re.compile(r"(?<![\w.])@\w+")
MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)
DATE = re.compile(r"\b(?:" + "|".join(MONTHS) + r")\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b(?:19|20)\d{2}\b",
                  re.IGNORECASE)
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")

#: For each template, which inputs hold facts and how: "lines" (each line a fact) or "whole" (one fact).
REQUIRED_FACTS: dict[str, tuple[tuple[str, str], ...]] = {
    "product-description": (("features", "lines"),),
    "ad-headlines": (("product", "whole"), ("benefit", "whole")),
    "social-post": (("topic", "clauses"),),
    "email-subject-lines": (("email_about", "subject"),),
}


@dataclass(frozen=True)
class Fact:
    text: str
    numbers: tuple[str, ...]
    names: tuple[str, ...]
    stems: tuple[str, ...]
    share: float = 0.5  # of the stems that must appear


SUFFIXES = ("ing", "ed", "es", "s")
PERCENT = re.compile(r"(\d)\s*(?:%|per\s?cent\b)", re.IGNORECASE)
STEM_LENGTH = 6  # "waterproof" and "waterproofed" agree, "water" and "waterproof" do not


def stem(word: str) -> str:
    """A light stem: the word's inflection removed, then its first six letters.

    "folds"/"fold", "carries"/"carried"/"carrying"/"carry", "padded"/"pad", "refills"/"refill" and
    "adjustable"/"adjusts" each share a stem. Plain English inflection only: no dictionary, so no word
    is ever matched by meaning.
    """
    word = word.lower().strip("'’-")
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    else:
        for suffix in SUFFIXES:
            # "ss"/"us"/"is" are not plurals ("glass", "bonus"); a stem keeps three letters ("bed", "ring").
            if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not (
                suffix == "s" and word.endswith(("ss", "us", "is"))
            ):
                word = word[: -len(suffix)]
                if suffix in ("ing", "ed") and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
                    word = word[:-1]  # "padded" -> "pad", "cutting" -> "cut"
                if suffix in ("ing", "ed", "es") and word.endswith("i"):
                    word = word[:-1] + "y"  # "carried" -> "carry"
                break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]  # "size"/"sized", "charge"/"charging"
    return word[:STEM_LENGTH]


def _is_name(word: str, position: int) -> bool:
    """A capitalised word after the first (the first is capitalised anyway), or an acronym anywhere."""
    if sum(c.isupper() for c in word) >= 2:
        return True
    return position > 0 and word[:1].isupper() and word.lower() not in STOPWORDS


def _stem_words(words: list[str]) -> list[str]:
    """The words to match by stem: hyphenated ones count part by part ("Hand-oiled" is "hand" and "oiled")."""
    parts = [part for word in words for part in re.split(r"[-‐–]", word) if part]
    return [part for part in parts if part.lower() not in STOPWORDS and len(part) > 2]


def fact_from(text: str, *, share: float = 0.5) -> Fact:
    words = WORD.findall(text)
    numbers = tuple(w for w in words if NUMBER.fullmatch(w.rstrip("%")))
    names = tuple(w for i, w in enumerate(words) if w not in numbers and _is_name(w, i))
    stems = tuple(dict.fromkeys(stem(w) for w in _stem_words([w for w in words if w not in numbers + names])))
    return Fact(text=text.strip(), numbers=numbers, names=names, stems=stems, share=share)


def _clauses(text: str) -> list[str]:
    return [part for part in re.split(r"[;\n]|,\s+|\s+and\s+|\.\s+", text) if WORD.search(part or "")]


def required_facts(template_id: str, inputs: dict[str, Any]) -> list[Fact]:
    """The facts a piece of copy from ``template_id`` should carry, taken from its inputs."""
    facts: list[Fact] = []
    for name, how in REQUIRED_FACTS.get(template_id, ()):
        value = str(inputs.get(name) or "").strip()
        if not value:
            continue
        if how == "lines":
            facts += [fact_from(line.lstrip("-•* ")) for line in value.splitlines() if WORD.search(line)]
        elif how == "clauses":
            facts += [fact_from(part) for part in _clauses(value)]
        elif how == "subject":  # a subject line of 8 words carries the subject, not every detail
            facts.append(fact_from(value, share=0.25))
        else:
            facts.append(fact_from(value))
    return facts


def mentions(fact: Fact, text: str) -> bool:
    """Whether ``text`` carries ``fact``: its numbers and names verbatim, enough of its other words by stem."""
    found = WORD.findall(PERCENT.sub(r"\1%", text))  # "20 %" and "20 percent" are "20%"
    lower = {w.lower() for w in found}
    if any(number.lower() not in lower for number in fact.numbers):
        return False
    if any(name.lower() not in lower for name in fact.names):
        return False
    if not fact.stems:
        return True
    stems = {stem(w) for w in _stem_words(found)} | {stem(w) for w in found}
    return sum(s in stems for s in fact.stems) >= max(1, math.ceil(fact.share * len(fact.stems)))


def ends_cleanly(text: str, *, short: bool = False) -> bool:
    """A complete sentence at the end (a headline or subject line needs no full stop, only no cut-off)."""
    stripped = text.strip()
    if not stripped:
        return False
    return short or bool(SENTENCE_END.search(stripped))


def invented(text: str, inputs: dict[str, Any]) -> list[str]:
    """Links, hashtags, handles and dates in ``text`` that none of the inputs contains."""
    given = " ".join(str(v) for v in inputs.values()).lower()
    found = URL.findall(text) + HASHTAG.findall(text) + HANDLE.findall(text) + DATE.findall(text)
    return [item for item in found if item.lower() not in given]
