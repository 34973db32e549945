"""WebSocket consumers. Every connection must be authenticated and a member of what it watches."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from dts.accounts.models import Workspace

# Close codes in the 4000-4999 range are the application's own.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


def workspace_group(workspace_id: int) -> str:
    return f"workspace.{workspace_id}"


class AuthenticatedConsumer(AsyncJsonWebsocketConsumer):
    """Refuses anonymous connections before accepting; subclasses add their own scope check."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await self.authorize(user):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.accept(subprotocol=self.scope.get("auth_subprotocol"))
        await self.joined()

    async def authorize(self, user: Any) -> bool:
        return True

    async def joined(self) -> None:
        """Called after accept: join groups, send the first state."""


class WorkspaceEventsConsumer(AuthenticatedConsumer):
    """/ws/workspaces/<id>/: live events of one workspace (audit entries now; task states later)."""

    async def authorize(self, user: Any) -> bool:
        self.workspace_id = int(self.scope["url_route"]["kwargs"]["workspace_id"])
        return await database_sync_to_async(_is_member)(user, self.workspace_id)

    async def joined(self) -> None:
        self.group = workspace_group(self.workspace_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "hello", "workspace": self.workspace_id})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def workspace_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])


def _is_member(user: Any, workspace_id: int) -> bool:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    return workspace is not None and workspace.role_of(user) is not None
