"""A Q&A fine-tune with the passages the assistant will be given: each training question is retrieved from the
product's knowledge index and put in the answer runner's own prompt (``answer_prompt_for``), so the tuned model
learns to answer from numbered passages, as it is asked when it serves.

Retrieval is the serving one: ``search_many`` queries each question exactly as ``retrieve`` does (MiniLM +
BM25 fused), in the training worker. A question whose best passage scores below the product's threshold keeps
its plain prompt: serving, the assistant says its "I don't know" sentence to it and never asks the model, so
passages that do not answer it would only teach the model to answer past them. The prompt's token budget is
the run's maximum length less the reply, so passages are dropped (lowest-ranked first) rather than the row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any

from inference.knowledge.prompt import Passage, answer_prompt_for
from inference.models import KnowledgeIndex
from inference.selectors import knowledge_index_for
from products.kinds.base import TrainingConversation

#: Questions embedded together.
BATCH = 32
#: Tokens kept free besides the prompt's estimate and the reply: the reply's end marker and the template's own.
REPLY_MARGIN_TOKENS = 8
#: Questions trained without passages that the run page names (the count says the rest).
NAMED_AT_MOST = 5
NOT_READY = ("The product's knowledge base is not ready (its Knowledge tab says why), so the questions are "
             "trained without passages.")


@dataclass(frozen=True)
class Grounding:
    index: KnowledgeIndex
    top_k: int
    threshold: float


@dataclass
class Tally:
    """How many conversations of a split got passages, and which questions did not."""

    grounded: int = 0
    plain: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.grounded + len(self.plain)


def run_grounding(team_id: int, prompt_config: dict[str, Any]) -> tuple[Grounding | None, str]:
    """(what to retrieve from, "") for a run whose product has a ready knowledge index of its team; else
    (None, why not in words), or (None, "") when the product has no knowledge base."""
    knowledge = prompt_config.get("knowledge")
    if not knowledge:
        return None, ""
    index = knowledge_index_for(dataset_version_id=knowledge.get("version"))
    if index is None or index.team_id != team_id or not index.is_ready:
        return None, NOT_READY
    return Grounding(index, int(knowledge["top_k"]), float(knowledge["threshold"])), ""


def _question(conversation: TrainingConversation) -> str:
    return next((m["content"] for m in reversed(conversation.messages) if m["role"] == "user"), "")


def grounded(conversations: Iterable[TrainingConversation], grounding: Grounding, *, count: Callable[[str], int],
             max_length: int, tally: Tally) -> Iterator[TrainingConversation]:
    """``conversations`` with their retrieved passages in the prompt, streamed ``BATCH`` at a time."""
    from inference.knowledge.search import index_cache, search_many

    loaded = index_cache().get(grounding.index)
    items = iter(conversations)
    while batch := list(islice(items, BATCH)):
        found = search_many(loaded, [(_question(c), []) for c in batch], top_k=grounding.top_k)
        for conversation, retrieval in zip(batch, found, strict=True):
            if retrieval.best_score < grounding.threshold or not retrieval.hits:
                tally.plain.append(_question(conversation))
                yield conversation
                continue
            budget = max_length - count(conversation.reply) - REPLY_MARGIN_TOKENS
            prompt = answer_prompt_for(conversation.messages, budget_tokens=budget, count=count,
                                       passages=[Passage(hit.id, hit.title, hit.text) for hit in retrieval.hits])
            tally.grounded += 1
            yield replace(conversation, messages=prompt.messages, passages=len(prompt.passages))


def tally_message(train: Tally, validation: Tally, *, knowledge: str) -> str:
    """The run page's line on which questions were trained with passages."""
    held = f" and {validation.grounded} of {validation.total} held-out ones" if validation.total else ""
    line = (f"Passages from the knowledge base “{knowledge}” are in the prompt of {train.grounded} of {train.total} "
            f"training questions{held}, as the assistant is asked when it answers.")
    plain = train.plain + validation.plain
    if plain:
        named = ", ".join(f"“{q[:80]}”" for q in plain[:NAMED_AT_MOST])
        more = f" and {len(plain) - NAMED_AT_MOST} more" if len(plain) > NAMED_AT_MOST else ""
        line += (f" Trained without passages, because no passage reaches the assistant's threshold (it says "
                 f"“I don't know” to them): {named}{more}.")
    return line
