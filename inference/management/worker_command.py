"""The shape of a ``manage.py <job>_worker`` command: run one LeasedJobWorker until SIGINT or SIGTERM."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from inference.jobs import LeasedJobWorker


class WorkerCommand(BaseCommand):
    """Subclasses say what the worker is called, what stopping waits for, and build the worker."""

    label = "Worker"
    #: What the worker finishes before it gives its job back, e.g. "Stopping after the current batch ...".
    stopping = "Stopping ..."
    once_help = "Run at most one queued job, then exit."

    def make_worker(self) -> LeasedJobWorker:
        raise NotImplementedError("Subclasses build their worker in `make_worker()`.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help=self.once_help)

    def handle(self, *args, once: bool = False, **options) -> None:
        worker = self.make_worker()

        def stop(signum, frame) -> None:  # finish the current piece of work, give the job back, exit
            self.stdout.write(self.stopping)
            worker.shutdown.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"{self.label} {worker.name} started (lease {worker.lease_seconds:g} s, queues: "
                          f"{', '.join(worker.queues)}). Ctrl+C stops it.")
        self.stdout.flush()
        if once:
            worker.run_once()
        else:
            worker.serve()
        self.stdout.write(f"{self.label} stopped.")
