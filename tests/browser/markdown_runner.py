"""The scripted generate runner the Markdown journey's live studio serves (tests/browser/markdown_settings.py).

It writes Markdown the way a model streams it: a `**` split across frames, a list, a web link, a link
to a javascript: address and raw HTML, each token in its own frame.
"""

from __future__ import annotations

from inference.protocol import Task
from inference.runners import runner
from tests.fakes import scripted_runner

TOKENS = (
    "*", "*We're", " thrilled", "**", " to launch", " *Trail", "* shoes.\n\n- Dry", " feet\n- Light",
    "\n\nSee [our", " shop](https://shop.example/", "trail) or [this](javascript:alert(1))", " and",
    ' <img src=x onerror="window.pwned = 1"><b>raw</b>',
)
#: What a reader sees once it is all written (whitespace aside).
READS = ("We're thrilled to launch Trail shoes. Dry feet Light See our shop or [this](javascript:alert(1)) and "
         '<img src=x onerror="window.pwned = 1"><b>raw</b>')

# A quarter of a second per token: each one is its own frame (the worker coalesces within ~30 ms).
runner(Task.GENERATE)(scripted_runner(TOKENS, delay_s=0.25, finish_reason="eos"))
