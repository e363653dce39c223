"""The scripted generate runner the blind-comparison journey's live studio serves (compare_settings.py lists it)."""

from __future__ import annotations

from inference.protocol import Task
from inference.runners import runner
from tests.comparisons import version_tokens
from tests.fakes import scripted_runner

runner(Task.GENERATE)(scripted_runner(version_tokens, delay_s=0.01))
