"""Settings of the blind-comparison journey's live studio: the test settings, with a scripted generate runner.

The runner (tests/browser/compare_runner.py) writes "Plain …" for version A and "Bold …" for version B, so the
journey can vote for one version on purpose and read the tally it expects; no model loads.
"""

from tests.settings import *  # noqa: F403
from tests.settings import INFERENCE_RUNNER_MODULES

# The answer runner is left out too: this journey needs no Q&A, and without it no model or index loads.
INFERENCE_RUNNER_MODULES = [
    *(module for module in INFERENCE_RUNNER_MODULES
      if module not in ("inference.runners.generate", "inference.runners.answer")),
    "tests.browser.compare_runner",
]
