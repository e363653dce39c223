"""The scripted generate runner the Markdown journey's live studio serves (tests/browser/markdown_settings.py).

It writes Markdown the way a model streams it (tests/browser/markdown_text.py): a `**` split across
frames, a list, a web link, a link to a javascript: address and raw HTML, each token in its own frame.
Only the live studio imports this module; importing it registers the runner.
"""

from __future__ import annotations

from inference.protocol import Task
from inference.runners import runner
from tests.browser.markdown_text import TOKENS
from tests.fakes import scripted_runner

# A quarter of a second per token: each one is its own frame (the worker coalesces within ~30 ms).
runner(Task.GENERATE)(scripted_runner(TOKENS, delay_s=0.25, finish_reason="eos"))
