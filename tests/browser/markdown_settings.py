"""Settings of the Markdown journey's live studio: the test settings, with the scripted Markdown writer."""

from tests.settings import *  # noqa: F403
from tests.settings import INFERENCE_RUNNER_MODULES

# The real generate runner needs the model, which writes Markdown only when it feels like it. The answer
# runner goes too: this journey needs no Q&A, and without it no model or index loads.
INFERENCE_RUNNER_MODULES = [
    *(module for module in INFERENCE_RUNNER_MODULES
      if module not in ("inference.runners.generate", "inference.runners.answer")),
    "tests.browser.markdown_runner",
]
