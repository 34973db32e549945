"""Turning a SyncTask into the data plane's TaskSpec (the one place credentials are joined in)."""

from __future__ import annotations

from typing import Any

from connectors.spec import TaskSpec
from dts.sync.models import SyncTask

SLOT_PREFIX = "dts_task_"


def slot_name(task: SyncTask) -> str:
    """The PostgreSQL replication slot (and publication) of a task: one per task, dropped with it (invariant 8)."""
    return f"{SLOT_PREFIX}{task.pk}"


def spec_json(task: SyncTask, *, with_passwords: bool) -> dict[str, Any]:
    source = task.source.connection_config().to_dict(with_password=with_passwords)
    if task.source.engine == "postgresql" and task.pk:
        source["options"] = {**(source.get("options") or {}), "slot_name": slot_name(task),
                             "publication_name": slot_name(task)}
    target = task.target.connection_config().to_dict(with_password=with_passwords)
    options = dict(task.options or {})
    if task.server_id:
        options["server_id"] = task.server_id
    return {"name": task.name, "source": source, "target": target, "mode": task.mode, "tables": task.tables,
            "options": options, "mapping": task.mapping or {}}


def spec_for(task: SyncTask) -> TaskSpec:
    return TaskSpec.from_json(spec_json(task, with_passwords=True))
