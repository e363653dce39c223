"""Stopping criteria: small pure callables, tested without a model."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence


class StopStringMatcher:
    """Finds stop strings in streamed text, holding back text that may be the start of one.

    Text is released only once it can no longer be part of a stop string, so a client never
    sees half of a stop string that is completed by a later token.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._held = ""

    def push(self, text: str) -> tuple[str, bool]:
        """Add new text; return (text safe to emit, whether a stop string was found)."""
        if not self.stops:
            return text, False
        buffer = self._held + text
        hits = [i for i in (buffer.find(s) for s in self.stops) if i >= 0]
        if hits:
            self._held = ""
            return buffer[: min(hits)], True
        hold = self._partial_suffix(buffer)
        self._held = buffer[len(buffer) - hold :]
        return buffer[: len(buffer) - hold], False

    def flush(self) -> str:
        """Release the held text at the end of a generation that did not hit a stop string."""
        held, self._held = self._held, ""
        return held

    def _partial_suffix(self, buffer: str) -> int:
        # Longest suffix of `buffer` that is a proper prefix of a stop string. Bounded by the
        # longest stop string, so the cost per token does not grow with the output.
        best = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(buffer)), best, -1):
                if buffer.endswith(stop[:size]):
                    best = size
                    break
        return best


class MaxNewTokens:
    """True once `limit` tokens have been generated."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, generated: int) -> bool:
        return generated >= self.limit


class Deadline:
    """True once `seconds` have passed since `start` (monotonic clock)."""

    def __init__(
        self,
        seconds: float,
        *,
        start: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.at = (clock() if start is None else start) + seconds

    def __call__(self) -> bool:
        return self.clock() >= self.at


# A sentence ends at . ! ? or … after a letter, a percent sign or a closing quote/bracket (so "3.5" does
# not end one), optionally followed by closing quotes or brackets.
SENTENCE_END = re.compile(r"(?<=[A-Za-z%)\]\"'”’])[.!?…]+[\"'”’)\]]*")


def last_sentence_end(text: str) -> str:
    """``text`` up to its last complete sentence; all of it when it has none (better than nothing)."""
    ends = list(SENTENCE_END.finditer(text))
    return text[: ends[-1].end()] if ends else text


class SentenceEnding:
    """Ends copy on a complete sentence instead of cutting it at the token limit.

    Once ``share`` of ``max_new_tokens`` are generated, text is held back until a sentence ends; the
    sequence then stops there. Held text that never reaches a sentence end is dropped at the limit, so
    what was streamed is exactly the final text and never ends mid-sentence after the wind-down starts.
    """

    def __init__(self, max_new_tokens: int, *, share: float = 0.7) -> None:
        self.zone_starts_at = max(1, int(max_new_tokens * share))
        self._held = ""

    def push(self, text: str, generated: int) -> tuple[str, bool]:
        """New text after ``generated`` tokens; return (text safe to emit, whether to stop here)."""
        if generated < self.zone_starts_at and not self._held:
            return text, False
        buffer = self._held + text
        ends = list(SENTENCE_END.finditer(buffer))
        if not ends:
            self._held = buffer
            return "", False
        self._held = ""
        return buffer[: ends[0].end()], True

    def settle(self, text: str, *, generated: int, natural_end: bool, emitted: str = "") -> str:
        """The last text of a sequence that ends: all of it when the model ended by itself (end of text,
        a stop string), else only up to the first sentence end once the wind-down has started. Copy with
        no sentence end at all (``emitted`` has none either) keeps everything: a fragment is better than less."""
        buffer, self._held = self._held + text, ""
        if natural_end or generated < self.zone_starts_at:
            return buffer
        first = SENTENCE_END.search(buffer)
        if first:
            return buffer[: first.end()]
        return "" if SENTENCE_END.search(emitted) else buffer
