"""The scripted generate runner of the playground variants journey's live studio (playground_settings.py).

Each variant writes 40 words, one every 0.15 s (about 6 s), then ends with finish reason ``eos``: long enough
to stop one variant while the other is still writing. Only the live studio imports this module; importing it
registers the runner.
"""

from __future__ import annotations

from inference.protocol import Task
from inference.runners import runner
from tests.fakes import scripted_runner

runner(Task.GENERATE)(scripted_runner(tuple(f" word{i}" for i in range(40)), delay_s=0.15, finish_reason="eos"))
