"""Live team events (training finished, product published) for the dashboard."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from studio.models import Membership


def team_group_name(team_id: int) -> str:
    return f"team.{team_id}"


@database_sync_to_async
def _membership(user, team_slug: str) -> Membership | None:
    if not user or not user.is_authenticated:
        return None
    return Membership.objects.select_related("team").filter(user=user, team__slug=team_slug).first()


class TeamEventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        membership = await _membership(
            self.scope.get("user"), self.scope["url_route"]["kwargs"]["team_slug"]
        )
        if membership is None:
            await self.close(code=4403)
            return
        self.group = team_group_name(membership.team_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def team_event(self, message: dict) -> None:
        await self.send_json(message["payload"])
