"""The Redis Streams sink: a task's rows and changes published as JSON envelopes (see envelope.py).

Streams (option stream_mode):
    per_table (default)  one stream per target table: <stream_prefix>:<task_name>:<database>.<table>
    per_task             one stream for every table of the task: <stream_prefix>:<task_name>
Every XADD trims with MAXLEN ~ <maxlen> when maxlen > 0 (approximate trimming is cheap; Redis
keeps at least maxlen entries). 0, the default, keeps everything.

Delivery is at least once, in source order per key:
- load_chunk publishes the chunk's rows as op "snapshot", pipelined. A chunk that is re-run after
  a crash publishes its rows again.
- write publishes one batch (deletes, then upserts, per table) in one MULTI/EXEC, so a batch is in
  the stream completely or not at all. The task saves its checkpoint after that; a crash between
  the two replays, on restart, the changes after the previous checkpoint in the same order.
A consumer that applies envelopes by key (upsert = replace the row, delete = remove it) ends with
the source's rows whatever it saw twice; one that counts events can drop a replay by comparing
position with the last one it applied.

Options read from ConnectionConfig.options: task_name (required: the task's name, part of every
stream name), stream_mode, stream_prefix (default "dts"), maxlen.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import redis
from redis.exceptions import RedisError

from connectors.base import Batch, Chunk, Sink
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.events import DDL as DDL_OP
from connectors.events import ChangeEvent
from connectors.redis import address, error_text, open_client
from connectors.redis.connector import RedisConnector
from connectors.redis.envelope import DDL, DELETE, FIELD, SNAPSHOT, UPSERT, encode, key_object, row_object
from connectors.spec import IF_EXISTS
from connectors.types import TableId, TableSchema

log = logging.getLogger(__name__)

STREAM_MODES = ("per_table", "per_task")
PIPELINE_ROWS = 1000


def _options(options: Mapping[str, Any]) -> tuple[str, str, str, int]:
    """(stream_mode, stream_prefix, task_name, maxlen), validated with a fix for each."""
    mode = options.get("stream_mode", "per_table")
    if mode not in STREAM_MODES:
        raise ConnectorError(f"target option stream_mode={mode!r} is not valid",
                             hint=f"set target options.stream_mode to one of: {', '.join(STREAM_MODES)}")
    prefix = options.get("stream_prefix", "dts")
    if not isinstance(prefix, str) or not prefix:
        raise ConnectorError(f"target option stream_prefix={prefix!r} is not valid",
                             hint="set target options.stream_prefix to a non-empty string, e.g. 'dts'")
    task = options.get("task_name")
    if not isinstance(task, str) or not task or ":" in task:
        raise ConnectorError(f"target option task_name={task!r} is not valid: stream names are "
                             f"{prefix}:<task_name>[:<database>.<table>]",
                             hint="set target options.task_name to the task's name (no ':')")
    maxlen = options.get("maxlen", 0)
    if not isinstance(maxlen, int) or isinstance(maxlen, bool) or maxlen < 0:
        raise ConnectorError(f"target option maxlen={maxlen!r} is not valid",
                             hint="set target options.maxlen to a whole number of entries to keep per stream "
                                  "(MAXLEN ~), or 0 to keep everything")
    return mode, prefix, task, maxlen


class RedisStreamsSink(RedisConnector, Sink):
    supports_sink: ClassVar[bool] = True

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self.mode, self.prefix, self.task, self.maxlen = _options(config.options)
        self._client: redis.Redis | None = None

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = open_client(self.config)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def stream_name(self, target: TableId) -> str:
        if self.mode == "per_task":
            return f"{self.prefix}:{self.task}"
        return f"{self.prefix}:{self.task}:{target.database}.{target.name}"

    def _fail(self, what: str, exc: RedisError) -> ConnectorError:
        text = error_text(exc, self.config)
        if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
            return ConnectionFailed(f"{what}: cannot reach Redis at {address(self.config)}: {text}",
                                    hint="check that Redis is up; the task resumes from its checkpoint")
        return ConnectorError(f"{what} failed: {text}",
                              hint="the user needs +xadd +del +exists on the stream keys, and Redis free memory")

    def _xadd(self, pipe: Any, stream: str, envelope: str) -> None:
        if self.maxlen:
            pipe.xadd(stream, {FIELD: envelope}, maxlen=self.maxlen, approximate=True)
        else:
            pipe.xadd(stream, {FIELD: envelope})

    # Streams

    def prepare(self, schema: TableSchema, target: TableId, *, if_exists: str = "keep",
                defer_indexes: bool = False) -> None:
        """Streams need no creation (XADD creates them); if_exists drop/truncate delete the stream, fail
        refuses an existing one."""
        if if_exists not in IF_EXISTS:
            raise ValueError(f"if_exists must be one of {', '.join(IF_EXISTS)}, not {if_exists!r}")
        stream = self.stream_name(target)
        try:
            exists = bool(self._redis().exists(stream))
            if exists and if_exists == "fail":
                raise ConnectorError(f"stream {stream} already exists",
                                     hint="choose if_exists keep, drop or truncate, or delete the stream")
            if exists and if_exists in ("drop", "truncate"):
                self._redis().delete(stream)
        except RedisError as exc:
            raise self._fail(f"preparing stream {stream}", exc) from exc

    def finish_table(self, schema: TableSchema, target: TableId) -> None:
        """Nothing to build: streams have no indexes."""

    def load_chunk(self, schema: TableSchema, target: TableId, chunk: Chunk, rows: Iterable[tuple[Any, ...]],
                   **_: Any) -> int:
        """Publish the chunk's rows as op "snapshot" (a re-run chunk publishes them again)."""
        stream = self.stream_name(target)
        position = {"chunk": chunk.to_json()}
        names = schema.column_names
        key_names = schema.key_columns
        count = 0
        pipe = self._redis().pipeline(transaction=False)
        try:
            for row in rows:
                after = row_object(names, row)
                key = {name: after[name] for name in key_names} if key_names else None
                self._xadd(pipe, stream, encode(SNAPSHOT, target, schema, key=key, before=None, after=after,
                                                commit_time=None, position=position))
                count += 1
                if count % PIPELINE_ROWS == 0:
                    pipe.execute()
            pipe.execute()
        except RedisError as exc:
            raise self._fail(f"publishing chunk {chunk.index} of {schema.table} to {stream}", exc) from exc
        return count

    def write(self, batch: Batch, **_: Any) -> None:
        """Publish one merged batch in one MULTI/EXEC: per table its deletes, then its upserts."""
        # The pipeline may attach where the batch ends in the source; without it the envelopes say null.
        position: dict[str, Any] | None = getattr(batch, "position", None)
        commit_time: float | None = getattr(batch, "commit_time", None)
        pipe = self._redis().pipeline(transaction=True)
        for table_batch in batch.tables.values():
            schema, target = table_batch.schema, table_batch.target
            stream = self.stream_name(target)
            names = schema.column_names
            for key in table_batch.deletes:
                key_values = key_object(schema, key)
                self._xadd(pipe, stream, encode(DELETE, target, schema, key=key_values, before=key_values,
                                                after=None, commit_time=commit_time, position=position))
            key_names = schema.key_columns
            for row in table_batch.upserts.values():
                after = row_object(names, row)
                self._xadd(pipe, stream, encode(UPSERT, target, schema, key={name: after[name] for name in key_names},
                                                before=None, after=after, commit_time=commit_time, position=position))
            for row in table_batch.appends:  # a keyless table: each new image, at least once
                self._xadd(pipe, stream, encode(UPSERT, target, schema, key=None, before=None,
                                                after=row_object(names, row), commit_time=commit_time,
                                                position=position))
            if table_batch.skipped_deletes and not key_names:
                log.warning("%s has no key: %d delete(s) not published", schema.table, table_batch.skipped_deletes)
        try:
            pipe.execute()
        except RedisError as exc:
            raise self._fail(f"publishing a batch of {batch.row_count} changes", exc) from exc

    def apply_ddl(self, event: ChangeEvent, target: TableId) -> None:
        """Publish the statement as op "ddl", in stream order, so consumers see where the shape changed."""
        if event.op != DDL_OP:
            raise ValueError(f"not a DDL event: {event.op}")
        stream = self.stream_name(target)
        schema = event.schema or TableSchema(target, ())
        position = event.position.to_json() if event.position is not None else None
        try:
            pipe = self._redis().pipeline(transaction=False)
            self._xadd(pipe, stream, encode(DDL, target, schema, key=None, before=None, after=None,
                                            commit_time=event.commit_time, position=position, ddl=event.ddl))
            pipe.execute()
        except RedisError as exc:
            raise self._fail(f"publishing DDL of {target} to {stream}", exc) from exc
