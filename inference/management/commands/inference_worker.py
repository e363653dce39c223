"""``manage.py inference_worker``: serve generation requests from the channel layer (Redis)."""

from __future__ import annotations

import asyncio
import signal

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference.runtime import shutdown_all
from inference.worker import InferenceWorker


class Command(BaseCommand):
    help = "Run an inference worker: continuous batching over every request the channel layer brings."

    def handle(self, *args, **options) -> None:
        if "InMemoryChannelLayer" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
            raise CommandError(
                "A separate inference worker needs a shared channel layer: set REDIS_URL "
                "(in the embedded default the worker already runs inside the web process)."
            )
        self.stdout.write(f"Inference worker started (device: {settings.INFERENCE_DEVICE}). Ctrl+C stops it.")
        try:
            asyncio.run(self._serve())
        finally:
            shutdown_all()

    async def _serve(self) -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # stop live generations cleanly, then exit
            loop.add_signal_handler(sig, task.cancel)
        try:
            await InferenceWorker(get_channel_layer()).run()
        except asyncio.CancelledError:
            self.stdout.write("Inference worker stopped.")
