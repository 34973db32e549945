"""Pushing events to the console's WebSocket groups from synchronous code."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from dts.live.consumers import workspace_group

log = logging.getLogger(__name__)


def to_workspace(workspace_id: int, event: dict[str, Any]) -> None:
    """Best effort: a console that misses a push re-reads the API; the write that caused it stands."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(workspace_group(workspace_id), {"type": "workspace.event", "event": event})
    except OSError as exc:  # Redis unreachable: log it, never fail the caller's transaction
        log.warning("live push to workspace %s failed: %s", workspace_id, exc)
