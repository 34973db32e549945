"""/ws/tasks/<id>/: a task's live status for members of its workspace; others are refused (4404).

Messages: "task_metrics" (the summary: first on connecting, then after each monitor evaluation) and
"task_live" (the runner's own updates while it runs: snapshot progress, applied counts and rates,
phase changes, log lines); see dts.monitor.push.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from dts.live.consumers import AuthenticatedConsumer
from dts.monitor import lag
from dts.monitor.push import task_group
from dts.monitor.summary import task_summary
from dts.sync.lease import redis_client
from dts.sync.models import SyncTask

__all__ = ["TaskLiveConsumer", "task_group"]


class TaskLiveConsumer(AuthenticatedConsumer):
    async def authorize(self, user: Any) -> bool:
        self.task_id = int(self.scope["url_route"]["kwargs"]["task_id"])
        return await database_sync_to_async(_is_member)(user, self.task_id)

    async def joined(self) -> None:
        self.group = task_group(self.task_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        # The last measurement at once, so the page does not wait for the next evaluation.
        await self.send_json(await database_sync_to_async(_current)(self.task_id))

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def task_update(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])


def _is_member(user: Any, task_id: int) -> bool:
    task = SyncTask.objects.select_related("workspace").filter(pk=task_id).first()
    return task is not None and task.workspace.role_of(user) is not None


def _current(task_id: int) -> dict[str, Any]:
    task = SyncTask.objects.get(pk=task_id)
    return task_summary(task, lag.load(redis_client(), task_id))
