"""``manage.py training_worker``: fine-tune queued training runs, one at a time, until stopped."""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from inference.training.worker import TrainingWorker


class Command(BaseCommand):
    help = "Run a training worker: claims queued fine-tuning runs from the database and trains them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Run at most one queued run, then exit.")

    def handle(self, *args, once: bool = False, **options) -> None:
        worker = TrainingWorker()

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
            f"{worker.lease_seconds:g} s). Ctrl+C stops it."
        )
        self.stdout.flush()
        if once:
            worker.run_once()
        else:
            worker.serve()
        self.stdout.write("Training worker stopped.")
