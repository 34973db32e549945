"""The JSON envelope of every message the Redis Streams sink publishes.

Each stream entry has one field, ``event``, holding a JSON object with exactly these keys:

    op              "snapshot" (a row of the initial copy), "upsert" (the row's image after the
                    changes of one batch: an insert or update), "delete", or "ddl"
    database, table the target address of the table (the task's table mapping)
    key             {key column: value}; null for a table without a key, and for "ddl"
    before          "delete": the deleted row's key columns; otherwise null (batches are merged
                    per key, so only the final image of each key is known)
    after           "snapshot"/"upsert": {column: value} for every column; otherwise null
    commit_time     source commit time of the batch, seconds since the epoch (UTC); null for
                    snapshot rows, or when the pipeline did not give it
    position        the source position the batch ends at (as the task's checkpoint stores it), or
                    {"chunk": {...}} for snapshot rows; consumers may use it to drop replays
    schema_version  the source table's schema version the row was read with
    ddl             (only for op "ddl") the source statement

Values are JSON-safe (connectors.quarantine.jsonable): decimals as exact text, bytes as
{"$base64": "..."}, dates and times as ISO 8601 (TIMESTAMP with +00:00), TIME as [-]HH:MM:SS[.ffffff],
UUIDs as text, JSON columns as their JSON text, non-finite floats as text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from connectors.quarantine import jsonable
from connectors.types import TableId, TableSchema

FIELD = "event"
SNAPSHOT, UPSERT, DELETE, DDL = "snapshot", "upsert", "delete", "ddl"
OPS = (SNAPSHOT, UPSERT, DELETE, DDL)


def row_object(names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    return {name: jsonable(value) for name, value in zip(names, row, strict=True)}


def key_object(schema: TableSchema, key: Sequence[Any]) -> dict[str, Any]:
    return row_object(schema.key_columns, key)


def encode(op: str, target: TableId, schema: TableSchema, *, key: dict[str, Any] | None,
           before: dict[str, Any] | None, after: dict[str, Any] | None, commit_time: float | None,
           position: dict[str, Any] | None, ddl: str | None = None) -> str:
    """The envelope as compact JSON text."""
    envelope: dict[str, Any] = {
        "op": op, "database": target.database, "table": target.name, "key": key, "before": before,
        "after": after, "commit_time": commit_time, "position": position, "schema_version": schema.version}
    if op == DDL:
        envelope["ddl"] = ddl
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def decode(text: str | bytes) -> dict[str, Any]:
    envelope = json.loads(text)
    if not isinstance(envelope, dict) or envelope.get("op") not in OPS:
        raise ValueError(f"not a DTS change envelope: {str(text)[:200]}")
    return envelope
