"""``manage.py index_worker``: build queued knowledge indexes (Q&A knowledge bases), one at a time, until stopped."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from inference.knowledge.worker import IndexBuildWorker


class Command(BaseCommand):
    help = "Run an index worker: claims queued knowledge indexes from the database, chunks and embeds them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Build at most one queued index, then exit.")

    def handle(self, *args, once: bool = False, **options) -> None:
        worker = IndexBuildWorker()

        def stop(signum, frame) -> None:  # finish the current batch, give the index back, exit
            self.stdout.write("Stopping after the current batch ...")
            worker.shutdown.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"Index worker {worker.name} started (lease {worker.lease_seconds:g} s, queues: "
                          f"{', '.join(worker.queues)}). Ctrl+C stops it.")
        self.stdout.flush()
        if once:
            worker.run_once()
        else:
            worker.serve()
        self.stdout.write("Index worker stopped.")
