"""Between two training steps: save progress, publish it, and decide whether the run goes on.

Cancel and lease are checked after every step, so a cancelled run stops within one step; progress
rows are written at most about once a second (plus every loss point), so a fast GPU does not spend
its time writing to the database.
"""

from __future__ import annotations

import threading
import time

from inference.models import TrainingMetric
from inference.training import services


class RunStopped(Exception):
    """The run must stop between two steps; subclasses say why."""


class CancelRequested(RunStopped):
    pass


class LeaseLost(RunStopped):
    """Another worker holds the run now (this one was presumed dead): stop without writing anything."""


class ShutdownRequested(RunStopped):
    """This worker is shutting down: checkpoint, then give the run back to the queue."""


class ProgressReporter:
    """Called after each step with the step's result; raises a RunStopped to stop the run there."""

    def __init__(
        self, *, run_id: int, worker: str, total_steps: int, start_step: int,
        shutdown: threading.Event, lease_lost: threading.Event, save_every_s: float = 1.0,
    ) -> None:
        self.run_id, self.worker, self.total_steps = run_id, worker, total_steps
        self.shutdown, self.lease_lost = shutdown, lease_lost
        self.save_every_s = save_every_s
        # About 200 points on the curve, whatever the length of the run.
        self.points_every = max(1, total_steps // 200)
        self.started, self.start_step = time.monotonic(), start_step
        self.last_save = 0.0
        self.losses: list[float] = []
        self.pending: list[tuple[str, int, float]] = []
        self.last_train_loss: float | None = None

    @classmethod
    def started_run(
        cls, *, run_id: int, worker: str, train_examples: int, validation_examples: int, total_steps: int,
        device: str, start_step: int, message: str, shutdown: threading.Event, lease_lost: threading.Event,
    ) -> ProgressReporter:
        """Record what the run found in its data and where it starts, then report its steps; LeaseLost when
        another worker holds the run now. Every training method starts this way."""
        if not services.training_run_prepared(
            run_id=run_id, worker=worker, train_examples=train_examples, validation_examples=validation_examples,
            total_steps=total_steps, device=device, resumed_from_step=start_step or None, message=message,
        ):
            raise LeaseLost
        return cls(run_id=run_id, worker=worker, total_steps=total_steps, start_step=start_step,
                   shutdown=shutdown, lease_lost=lease_lost)

    def seconds_per_step(self, step: int) -> float | None:
        done = step - self.start_step
        return (time.monotonic() - self.started) / done if done > 0 else None

    def after_step(self, step: int, loss: float, tokens_seen: int) -> None:
        self.losses.append(loss)
        if step % self.points_every == 0 or step == self.total_steps:
            self.last_train_loss = sum(self.losses) / len(self.losses)
            self.pending.append((TrainingMetric.Split.TRAIN, step, self.last_train_loss))
            self.losses.clear()
        due = self.pending or time.monotonic() - self.last_save >= self.save_every_s or step == self.total_steps
        if not due:
            cancel, lost = services.training_run_should_stop(run_id=self.run_id, worker=self.worker)
            if lost or self.lease_lost.is_set():
                raise LeaseLost
            # Stopping: save this step first, so the run says exactly where it stopped.
            due = cancel or self.shutdown.is_set()
        if due:
            self.save(step, tokens_seen)

    def record_validation(self, step: int, loss: float, tokens_seen: int) -> None:
        self.pending.append((TrainingMetric.Split.VALIDATION, step, loss))
        self.save(step, tokens_seen)

    def save(self, step: int, tokens_seen: int, message: str = "") -> None:
        run = services.training_run_progress_record(
            run_id=self.run_id, worker=self.worker, step=step, train_loss=self.last_train_loss,
            tokens_seen=tokens_seen, seconds_per_step=self.seconds_per_step(step), points=self.pending,
            message=message,
        )
        self.pending = []
        self.last_save = time.monotonic()
        self._raise_if_stopping(run is not None and run.cancel_requested, run is None)

    def _raise_if_stopping(self, cancel: bool, lost: bool) -> None:
        if lost or self.lease_lost.is_set():
            raise LeaseLost
        if cancel:
            raise CancelRequested
        if self.shutdown.is_set():
            raise ShutdownRequested
