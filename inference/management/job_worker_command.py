"""The shape every ``manage.py <job>_worker`` command shares: --once, SIGINT/SIGTERM stop, a start and stop line."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from inference.jobs import LeasedJobWorker


class JobWorkerCommand(BaseCommand):
    """Subclasses set ``title`` ("Index worker"), ``once_help`` and ``stopping`` and build the worker."""

    title = "Worker"
    once_help = "Run at most one queued job, then exit."
    stopping = "Stopping after the current batch ..."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help=self.once_help)

    def make_worker(self, **options) -> LeasedJobWorker:
        raise NotImplementedError("Subclasses return the worker to run, e.g. `return IndexBuildWorker()`.")

    def make_workers(self, **options) -> list[LeasedJobWorker]:
        """Every worker of this process: one by default; more, each in its own thread (the index worker's two)."""
        return [self.make_worker(**options)]

    def started_line(self, worker: LeasedJobWorker) -> str:
        return (f"{self.title} {worker.name} started (lease {worker.lease_seconds:g} s, queues: "
                f"{', '.join(worker.queues)}). Ctrl+C stops it.")

    def handle(self, *args, once: bool = False, **options) -> None:
        workers = self.make_workers(**options)

        def stop(signum, frame) -> None:  # finish the current batch or step, give the job back, exit
            self.stdout.write(self.stopping)
            for worker in workers:
                worker.shutdown.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for worker in workers:
            self.stdout.write(self.started_line(worker))
        self.stdout.flush()
        # The first worker runs on the main thread (signals reach it); any others get a thread each.
        threads = [threading.Thread(target=worker.run_once if once else worker.serve, name=f"{worker.kind}-worker",
                                    daemon=True) for worker in workers[1:]]
        for thread in threads:
            thread.start()
        if once:
            workers[0].run_once()
        else:
            workers[0].serve()
        for thread in threads:
            thread.join()
        self.stdout.write(f"{self.title} stopped.")
