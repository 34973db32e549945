"""Pushing a task's live summary to its WebSocket group, at most a few times a second per task."""

from __future__ import annotations

import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from dts.monitor.consumers import task_group

log = logging.getLogger("dts.monitor")
MIN_INTERVAL_SECONDS = 0.5
_last_push: dict[int, float] = {}


def to_task(task_id: int, event: dict[str, Any]) -> bool:
    """Best effort, like dts.live.publish: a console that misses one gets the next evaluation's."""
    now = time.monotonic()
    if now - _last_push.get(task_id, 0.0) < MIN_INTERVAL_SECONDS:
        return False
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async_to_sync(layer.group_send)(task_group(task_id), {"type": "task.update", "event": event})
    except OSError as exc:  # Redis unreachable: the monitor goes on, the console catches up later
        log.warning("live push to task %s failed: %s", task_id, exc)
        return False
    _last_push[task_id] = now
    return True
