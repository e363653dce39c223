"""The run page's websocket: a snapshot on connect, then the run's live frames (see events.py)."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from inference.selectors import training_run_for_member, training_run_snapshot
from products.training.events import run_group_name


class TrainingRunConsumer(AsyncJsonWebsocketConsumer):
    """Any member of the run's team may watch it; others are refused (close code 4403)."""

    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        run = await database_sync_to_async(training_run_for_member)(
            user=self.scope.get("user"), team_slug=kwargs["team_slug"], run_id=kwargs["run_id"]
        )
        if run is None:
            await self.close(code=4403)
            return
        self.group = run_group_name(run.pk)
        # Join before reading the snapshot: a frame sent in between arrives after it, never lost.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(await database_sync_to_async(training_run_snapshot)(run=run))

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs) -> None:
        await self.send_json({"event": "error", "code": "read_only",
                              "message": "This socket only reports progress; cancel with the page's button."})

    async def training_status(self, message: dict[str, Any]) -> None:
        await self.send_json(message["frame"])

    async def training_progress(self, message: dict[str, Any]) -> None:
        await self.send_json(message["frame"])

    async def training_finished(self, message: dict[str, Any]) -> None:
        await self.send_json(message["frame"])
