"""Settings of the playground variants journey's live studio: the test settings, with a scripted, steady writer."""

from tests.settings import *  # noqa: F403
from tests.settings import INFERENCE_RUNNER_MODULES

# The real model writes at whatever speed the loaded machine allows, so "stop one variant while the other is
# still writing" would be a race. The answer runner goes too: this journey needs no Q&A.
INFERENCE_RUNNER_MODULES = [
    *(
        module
        for module in INFERENCE_RUNNER_MODULES
        if module not in ("inference.runners.generate", "inference.runners.answer")
    ),
    "tests.browser.playground_runner",
]
