"""``manage.py training_worker``: train queued training runs of its queues, one at a time, until stopped."""

from __future__ import annotations

from django.conf import settings

from inference.management.job_worker_command import JobWorkerCommand
from inference.training.services import TRAINING_QUEUES
from inference.training.worker import TrainingWorker


class Command(JobWorkerCommand):
    help = "Run a training worker: claims queued fine-tuning runs from the database and trains them."
    title = "Training worker"
    once_help = "Run at most one queued run, then exit."
    stopping = "Stopping after the current step ..."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--queue", action="append", dest="queues", choices=TRAINING_QUEUES,
            help="A queue to serve (repeat for several; default: all). Give short jobs a worker of their own "
                 "(--queue short) so they never wait behind a long fine-tune.",
        )

    def make_worker(self, *, queues: list[str] | None = None, **options) -> TrainingWorker:
        if "InMemoryChannelLayer" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
            self.stderr.write(
                "No shared channel layer (REDIS_URL is not set): runs train and save their progress, but open run "
                "pages only see it when they reconnect or reload. Set REDIS_URL for live progress."
            )
        return TrainingWorker(queues=queues or TRAINING_QUEUES)

    def started_line(self, worker: TrainingWorker) -> str:
        return (f"Training worker {worker.name} started (device: {settings.INFERENCE_DEVICE}, lease "
                f"{worker.lease_seconds:g} s, queues: {', '.join(worker.queues)}). Ctrl+C stops it.")
