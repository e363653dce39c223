"""The answer task (Q&A): retrieve from the product's knowledge index, then write an answer that cites it.

Events, in order (the contract in ARCHITECTURE.md and notes/QA_CONTRACT.md):

1. ``Sources(items)`` before any token, always: ``{"n", "id", "title", "text" (≤ 600 chars), "score" (dense
   cosine, 3 dp), "source_row"}`` for each passage, numbered as the model sees them (empty for an empty index).
2. Best dense cosine below the threshold: one ``Token`` with the product's "I don't know" sentence (and its
   "talk to a person" line), then ``Result("stop", {"text", "citations": [], "abstained": True,
   "best_score", "threshold"})``. The sources are then the closest passages, shown so a person sees why.
3. Otherwise the tokens of the model (through the same scheduler path as generate: ``scheduled``; a version on a
   remote engine streams them from there, ``remote_generate``: retrieval, sources and citations stay here), then
   ``Result(reason, {"text", "citations": [{"n", "id", "title", "via"}], "abstained": False, "best_score",
   "threshold"})``; a reply the output guard stopped ends ``Result("stop", {..., "guarded": True})``.
4. A request that cannot be served: ``Result("error", {"text": ""}, error=<plain words>)``.

Citations are the [n] markers of the text that point at a passage the model was given, in order of first
appearance (``"via": "marker"``); markers pointing anywhere else are dropped. A reply without markers (the
bundled 135M model seldom writes them) cites the passages whose wording it repeats verbatim — two or more
shared runs of four words, at most two passages (``"via": "quote"``); a reply that repeats no passage cites
nothing. Marking passage 1 whatever the reply says would be a guess presented as a fact; a shared run of
words is evidence a person can check against the quoted passage.

Retrieval (MiniLM + numpy + BM25) runs off the event loop in a worker thread, never on the scheduler's
decode thread; the index is refused unless it belongs to the request's team and is built.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from inference.knowledge.prompt import (
    OutputGuard,
    Passage,
    answer_prompt_for,
    cited_numbers,
    leading_system,
    protected_text,
    quoted_numbers,
)
from inference.protocol import InferenceRequest, Task
from inference.runners import Result, RunContext, RunnerEvent, Sources, Token, empty_usage, runner
from inference.runners.text import generation_params, written

SOURCE_TEXT_CHARS = 600
MAX_TOP_K = 8
OTHER_TEAM = "This knowledge base belongs to another team."
#: Tokens kept free of the model's context besides the reply: the chat template's own markers, rounding.
PROMPT_MARGIN_TOKENS = 32
#: torch threads for embedding a question (see inference/knowledge/embedder.py): one is fast and never spins.
QUESTION_THREADS = 1


@dataclass(frozen=True)
class RetrievalSpec:
    index: int
    team: int
    question: str
    history: list[str]
    top_k: int
    threshold: float
    abstain_text: str
    handoff: str

    @classmethod
    def parse(cls, data: dict[str, Any] | None, messages: list[dict[str, str]]) -> RetrievalSpec:
        """The request's ``retrieval``, checked; ValueError says what is missing."""
        from inference.knowledge.search import DEFAULT_THRESHOLD

        data = data or {}
        try:
            index, team = int(data["index"]), int(data["team"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("This assistant has no knowledge base yet.") from None
        question = str(data.get("question") or (messages[-1]["content"] if messages else "")).strip()
        if not question:
            raise ValueError("Ask a question first.")
        history = [str(t) for t in (data.get("history") or []) if str(t).strip()]
        try:
            top_k = min(max(int(data.get("top_k") or 4), 1), MAX_TOP_K)
            threshold = data.get("threshold")
            threshold = DEFAULT_THRESHOLD if threshold is None else min(max(float(threshold), 0.0), 1.0)
        except (TypeError, ValueError):
            raise ValueError("The assistant's retrieval settings are not valid: passages to use must be a whole "
                             "number from 1 to 8 and strictness a number from 0 to 1.") from None
        abstain = str(data.get("abstain_text") or "I can't find that in our documents.").strip()
        return cls(index, team, question, history, top_k, threshold, abstain, str(data.get("handoff") or "").strip())


def _index_problem(index, team: int) -> str | None:
    if index is None:
        return "This knowledge base no longer exists; choose another one in the assistant's settings."
    if index.team_id != team:
        return OTHER_TEAM
    if index.status == index.Status.FAILED:
        return f"This knowledge base could not be indexed: {index.error}"
    if not index.is_ready:
        return f"Still reading your documents ({index.progress_percent} %). Try again in a minute."
    return None


def _load(index_id: int, team: int):
    """(the index row, its loaded chunks) or (problem, None). Runs in a worker thread (ORM, numpy, BM25)."""
    from inference.knowledge.search import index_cache
    from inference.models import KnowledgeIndex

    index = KnowledgeIndex.objects.filter(pk=index_id).first()
    problem = _index_problem(index, team)
    if problem:
        return problem, None
    return index, index_cache().get(index)


def _search(loaded, spec: RetrievalSpec):
    from inference.knowledge.embedder import embed
    from inference.knowledge.search import Retrieval, query_texts

    if not len(loaded):
        return Retrieval([], 0.0)
    texts, lexical = query_texts(spec.question, spec.history)
    return loaded.search(embed(texts, threads=QUESTION_THREADS), lexical, top_k=spec.top_k)


def _search_and_counter(loaded, spec: RetrievalSpec, model: str):
    """(the retrieval, the prompt's token counter): the two blocking steps before ``Sources``, in one worker thread."""
    return _search(loaded, spec), _prompt_counter(str(settings.MODELS_DIR), model)


@functools.cache
def _prompt_counter(models_dir: str, model: str):
    """Token counts of the language model's own tokenizer (the ``tokenizers`` package; no weights)."""
    from tokenizers import Tokenizer

    from inference.install import tokenizer_dir

    tokenizer = Tokenizer.from_file(str(tokenizer_dir(Path(models_dir), model) / "tokenizer.json"))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def prompt_budget(params) -> int:
    """Prompt tokens the engine accepts with room for the reply (llama.cpp slots are the tighter context)."""
    context = min(settings.INFERENCE_SLOT_CONTEXT, 8192)
    return max(min(params.max_prompt_tokens, context - params.max_new_tokens) - PROMPT_MARGIN_TOKENS, 64)


def answer_citations(text: str, given: list[Passage]) -> list[dict[str, Any]]:
    """The reply's [n] markers that point at given passages, else the passages it quotes (see the module doc)."""
    numbers, via = cited_numbers(text, given=len(given)), "marker"
    if not numbers:
        numbers, via = quoted_numbers(text, given), "quote"
    return [{"n": n, "id": given[n - 1].id, "title": given[n - 1].title, "via": via} for n in numbers]


def source_items(hits) -> list[dict[str, Any]]:
    return [{"n": n, "id": hit.id, "title": hit.title, "text": hit.text[:SOURCE_TEXT_CHARS],
             "score": round(hit.score, 3), "source_row": hit.source_row} for n, hit in enumerate(hits, 1)]


@runner(Task.ANSWER)
async def answer(request: InferenceRequest, context: RunContext) -> AsyncIterator[RunnerEvent]:
    started = time.monotonic()

    def failed(message: str) -> Result:
        return Result("error", {"text": ""}, empty_usage(duration_s=time.monotonic() - started,
                                                         finish_reason="error"), error=message)

    messages = list(request.messages or [])
    try:
        spec = RetrievalSpec.parse(request.retrieval, messages)
    except ValueError as exc:
        yield failed(str(exc))
        return
    index, loaded = await database_sync_to_async(_load, thread_sensitive=False)(spec.index, spec.team)
    if loaded is None:
        yield failed(index)
        return
    # One hop for both: a trip to a worker thread waited 1-7 ms for a core on a busy host (bench_retrieval --sources).
    found, count = await asyncio.to_thread(_search_and_counter, loaded, spec, request.model)
    summary = {"best_score": round(found.best_score, 3), "threshold": spec.threshold}

    if found.best_score < spec.threshold or not found.hits:
        yield Sources(source_items(found.hits))
        text = f"{spec.abstain_text} {spec.handoff}".strip()
        yield Token(text)
        usage = empty_usage(duration_s=time.monotonic() - started, finish_reason="stop")
        yield Result("stop", {"text": text, "citations": [], "abstained": True, **summary}, usage)
        return

    system = leading_system(messages)
    params = generation_params(request)
    prompt = answer_prompt_for(messages, question=spec.question, budget_tokens=prompt_budget(params), count=count,
                               passages=[Passage(hit.id, hit.title, hit.text) for hit in found.hits])
    given = found.hits[:len(prompt.passages)]
    yield Sources(source_items(given))

    guard = OutputGuard(protected_text(system))
    inner = RunContext(context.request_id)  # the guard stops the sequence without cancelling the client
    context.on_cancel(inner.cancel)
    async for event in written(request, inner, prompt.messages):
        if isinstance(event, Token):
            shown = guard.feed(event.text)
            if guard.tripped:
                inner.cancel()
            elif shown:
                yield Token(shown)
        elif isinstance(event, Result):
            if event.finish_reason == "error":
                yield event
                return
            if guard.tripped:
                text, reason, extra = guard.shown, "stop", {"guarded": True}
            else:
                rest = guard.finish()
                if rest:
                    yield Token(rest)
                text, reason, extra = event.text, event.finish_reason, {}
            citations = answer_citations(text, given)
            yield Result(reason, {"text": text, "citations": citations, "abstained": False, **summary, **extra},
                         event.usage)
            return
        else:
            yield event
