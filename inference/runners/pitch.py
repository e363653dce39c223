"""One sentence per top item, written by a version's base language model after its ranking (“pitch”).

The rank runner sends the ranked items first (a ``Sources`` event: the list is drawn at once), then calls
``pitches``: one greedy, one-line generation per item through the same scheduler path as every other text
(``written``), its tokens streamed as they come. The pitches are lines of one token stream: item 1's sentence,
``"\\n"``, item 2's, … so every transport relays plain ``token`` frames and the items renderer puts line n under
card n. Cancelling stops the sentence being written and starts no other; a failure stops the pitches and says
why in ``pitch_error``, never losing the items.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from inference.protocol import InferenceRequest, Task
from inference.runners import Queued, Result, RunContext, RunnerEvent, Token
from inference.runners.text import written

SYSTEM = ("You write one short, friendly sentence that makes a shopper want an item. Use only the facts given. "
          "No lists, no quotes.")
#: Greedy (the same list gets the same pitches), one line, short: the 135M model rambles past ~40 tokens.
PARAMS = {"max_new_tokens": 40, "temperature": 0.0, "stop": ["\n"], "end_on_sentence": True, "max_seconds": 20.0}
FACT_CHARS = 400
FAILED = "The pitches could not be written ({error}); the recommendations are complete without them."
NO_FACTS = "The items' descriptions could not be read ({error}), so the pitches were written from their names."


@functools.lru_cache(maxsize=8)
def catalog_facts(catalog_version: int) -> dict[str, str]:
    """Each item's description in a catalog version (versions never change), read once per worker."""
    from products.recommendations.selectors import catalog_version_items

    return {item.id: item.text for item in catalog_version_items(version_id=catalog_version)}


def pitch_messages(item: dict[str, Any], facts: str) -> list[dict[str, str]]:
    lines = [f"Item: {item.get('title') or item.get('id')}"]
    if facts:
        lines.append(f"Facts: {facts[:FACT_CHARS]}")
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": "\n".join(lines) + "\n\nWrite one sentence about why to choose it."}]


async def pitches(request: InferenceRequest, payload: dict[str, Any], context: RunContext,
                  started: float) -> AsyncIterator[RunnerEvent]:
    """Token events of the pitches of ``payload``'s top items, then the Result: the items with their ``pitch``."""
    spec = (request.query or {}).get("pitch") or {}
    items = [dict(item) for item in payload.get("items") or []]
    result = {**payload, "items": items}
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "time_to_first_token_s": None}
    finish = "stop"
    writer = replace(request, task=Task.GENERATE, model=str(spec.get("model") or ""), adapter=None, params=PARAMS)
    try:
        catalog = spec.get("catalog")
        facts = await asyncio.to_thread(catalog_facts, int(catalog)) if catalog else {}
    except Exception as exc:  # a deleted catalog: the names alone still make a sentence
        facts, result["pitch_error"] = {}, NO_FACTS.format(error=exc)
    for n, item in enumerate(items[: int(spec.get("count") or 3)]):
        if context.cancelled:
            break
        if n:
            yield Token("\n")
        words: list[str] = []
        ended = "stop"
        async for event in written(writer, context, pitch_messages(item, facts.get(str(item.get("id")), ""))):
            if isinstance(event, Token):
                text = event.text.replace("\n", " ")  # a line per item, whatever the model writes
                if usage["time_to_first_token_s"] is None:
                    usage["time_to_first_token_s"] = time.monotonic() - started
                words.append(text)
                yield Token(text)
            elif isinstance(event, Queued):
                yield event
            elif isinstance(event, Result):
                usage["prompt_tokens"] += event.usage.get("prompt_tokens", 0)
                usage["completion_tokens"] += event.usage.get("completion_tokens", 0)
                ended = event.finish_reason
                if ended == "error":
                    result["pitch_error"] = FAILED.format(error=event.error or "the model failed")
        if "".join(words).strip():
            item["pitch"] = "".join(words).strip()
        if ended in ("error", "cancelled"):  # a model that failed once fails the next item too
            finish = "cancelled" if ended == "cancelled" else finish
            break
    usage.update(total_tokens=usage["prompt_tokens"] + usage["completion_tokens"],
                 duration_s=time.monotonic() - started, finish_reason=finish)
    yield Result(finish, result, usage)
