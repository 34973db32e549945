"""The engine's checkpoint store, backed by the Checkpoint model."""

from __future__ import annotations

from typing import Any

from dts.sync.models import Checkpoint, SyncTask


class DatabaseCheckpointStore:
    def __init__(self, task: SyncTask) -> None:
        self.task = task

    def load(self) -> dict[str, Any] | None:
        checkpoint = Checkpoint.objects.filter(task=self.task).first()
        return checkpoint.state if checkpoint is not None and checkpoint.state else None

    def save(self, state: dict[str, Any]) -> None:
        Checkpoint.objects.update_or_create(task=self.task, defaults={"state": state})
