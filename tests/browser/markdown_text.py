"""What the Markdown journey's scripted runner streams, and what a reader sees once it is all written.

Kept apart from tests/browser/markdown_runner.py, which registers the runner when imported: the test
process must not import that (its own worker would then have two generate runners).
"""

from __future__ import annotations

TOKENS = (
    "*", "*We're", " thrilled", "**", " to launch", " *Trail", "* shoes.\n\n- Dry", " feet\n- Light",
    "\n\nSee [our", " shop](https://shop.example/", "trail) or [this](javascript:alert(1))", " and",
    ' <img src=x onerror="window.pwned = 1"><b>raw</b>',
)
#: What a reader sees once it is all written (whitespace aside).
READS = ("We're thrilled to launch Trail shoes. Dry feet Light See our shop or [this](javascript:alert(1)) and "
         '<img src=x onerror="window.pwned = 1"><b>raw</b>')
