"""Lag-awareness for compares attached to a live sync task.

``settle_for(task)`` returns a function that blocks until the task's checkpoint (saved only after
the sink committed, invariant 1) has passed the source's head as it is when called: every change
made at the source before that moment is then at the target, so a difference still there is real.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from connectors.errors import ConnectorError
from connectors.pipeline.task import endpoint_configs
from connectors.registry import source_for
from dts.sync.models import Checkpoint, Mode, Status, SyncTask
from dts.sync.specs import spec_for

DEFAULT_TIMEOUT = 600.0
POLL_SECONDS = 0.5


def settle_for(task: SyncTask, timeout: float = DEFAULT_TIMEOUT) -> Callable[[], None] | None:
    """None when the task is not streaming (nothing is in flight, a difference is a difference)."""
    if task.status != Status.RUNNING or task.mode not in (Mode.INCREMENTAL, Mode.FULL_INCREMENTAL):
        return None
    source_config, _ = endpoint_configs(spec_for(task))

    def settle() -> None:
        source = source_for(source_config)
        try:
            head = source.current_position()
            deadline = time.monotonic() + timeout
            while True:
                checkpoint = Checkpoint.objects.filter(task=task).first()
                saved = checkpoint.state.get("position") if checkpoint is not None else None
                if saved and source.position_from_json(saved) >= head:  # type: ignore[operator]
                    return
                if time.monotonic() > deadline:
                    raise ConnectorError(
                        f"sync task {task.name} did not reach the source's position {head} within {timeout:g}s, "
                        "so differences found while it streams cannot be confirmed",
                        hint="check the task's lag and state, then run the compare again")
                time.sleep(POLL_SECONDS)
        finally:
            source.close()
    return settle
