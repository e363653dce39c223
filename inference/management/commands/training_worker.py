"""``manage.py training_worker``: train queued training runs of its queues, one at a time, until stopped."""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from inference.training.services import TRAINING_QUEUES
from inference.training.worker import TrainingWorker


class Command(BaseCommand):
    help = "Run a training worker: claims queued fine-tuning runs from the database and trains them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Run at most one queued run, then exit.")
        parser.add_argument(
            "--queue", action="append", dest="queues", choices=TRAINING_QUEUES,
            help="A queue to serve (repeat for several; default: all). Give short jobs a worker of their own "
                 "(--queue short) so they never wait behind a long fine-tune.",
        )

    def handle(self, *args, once: bool = False, queues: list[str] | None = None, **options) -> None:
        worker = TrainingWorker(queues=queues or TRAINING_QUEUES)

        def stop(signum, frame) -> None:  # finish the current step, checkpoint, give the run back, exit
            self.stdout.write("Stopping after the current step ...")
            worker.shutdown.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        if "InMemoryChannelLayer" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
            self.stderr.write(
                "No shared channel layer (REDIS_URL is not set): runs train and save their progress, but open run "
                "pages only see it when they reconnect or reload. Set REDIS_URL for live progress."
            )
        self.stdout.write(
            f"Training worker {worker.name} started (device: {settings.INFERENCE_DEVICE}, lease "
            f"{worker.lease_seconds:g} s, queues: {', '.join(worker.queues)}). Ctrl+C stops it."
        )
        self.stdout.flush()
        if once:
            worker.run_once()
        else:
            worker.serve()
        self.stdout.write("Training worker stopped.")
