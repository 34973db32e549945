"""Example: rebuild a table from a DTS task's Redis stream with a consumer group.

    python docs/redis_streams_consumer.py redis://127.0.0.1:6379/0 dts:orders:shop.orders

Reads the stream through consumer group "rebuild" (created at the stream's start, so the snapshot
is included), applies each envelope by key to an in-memory table, and acknowledges it with XACK
once applied. On restart it first re-reads its own pending (delivered, unacknowledged) entries,
then new ones: delivery is at least once, and applying by key makes repeats harmless.

Only redis-py is needed; nothing here imports the DTS code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import redis

Key = tuple[tuple[str, Any], ...]


def key_of(envelope: dict[str, Any]) -> Key:
    """The row's key as a hashable value: ((column, value), ...) in key order."""
    return tuple((envelope["key"] or {}).items())


class TableRebuilder:
    """Applies envelopes to a dict {key: row}: snapshot and upsert replace the row, delete removes it."""

    def __init__(self) -> None:
        self.rows: dict[Key, dict[str, Any]] = {}
        self.applied = 0
        self.last_position: Any = None

    def apply(self, envelope: dict[str, Any]) -> None:
        op = envelope["op"]
        if op in ("snapshot", "upsert"):
            self.rows[key_of(envelope)] = envelope["after"]
        elif op == "delete":
            self.rows.pop(key_of(envelope), None)
        elif op == "ddl":
            print(f"schema change: {envelope['ddl']}", file=sys.stderr)
        self.applied += 1
        self.last_position = envelope["position"]


def consume(client: redis.Redis, stream: str, apply: Callable[[dict[str, Any]], None], *,
            group: str = "rebuild", consumer: str = "worker-1", block_ms: int = 1000,
            stop_when_idle: bool = False) -> int:
    """Read the stream through a consumer group, apply each envelope, XACK it. Returns entries applied."""
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    count = 0
    pending_first = True  # our own unacknowledged entries (from a crash) come first: read from id 0
    while True:
        start = "0" if pending_first else ">"
        reply: Any = client.xreadgroup(group, consumer, {stream: start}, count=500,
                                       block=None if pending_first else block_ms)
        entries: list[Any] = reply[0][1] if reply else []
        if pending_first and not entries:
            pending_first = False
            continue
        if not entries:
            if stop_when_idle:
                return count
            continue
        for entry_id, fields in entries:
            envelope = json.loads(fields["event"] if "event" in fields else fields[b"event"])
            apply(envelope)
            client.xack(stream, group, entry_id)
            count += 1


def main() -> None:
    url, stream = sys.argv[1], sys.argv[2]
    table = TableRebuilder()
    try:
        consume(redis.Redis.from_url(url, decode_responses=True), stream, table.apply)
    except KeyboardInterrupt:
        print(f"{len(table.rows)} rows after {table.applied} events", file=sys.stderr)


if __name__ == "__main__":
    main()
