"""Settings of the Q&A journey's live studio: the test settings, with the scripted answer runner serving answers."""

from tests.settings import *  # noqa: F403
from tests.settings import INFERENCE_RUNNER_MODULES

# The real answer runner (the worker half's inference.runners.answer) would need a built index and the model.
INFERENCE_RUNNER_MODULES = [
    *(module for module in INFERENCE_RUNNER_MODULES if module != "inference.runners.answer"),
    "tests.browser.qa_runner",
]
