"""The MongoDB source: collections as tables, snapshots by `_id` ranges, change streams.

A collection's schema has one of the layouts of connectors.mongodb.documents (option `layout`):
"document" (default: `_id` and `doc`, the rest of the document as relaxed Extended JSON), or
"columns" (`_id`, a column per top-level field of the first `sample_size` documents by `_id`,
typed when they agree, and `_rest` for the other fields). How `_id` appears in rows depends on the
collection's `_id` type, read from its smallest and largest `_id` (BSON orders by type first, so
equal types at both ends mean one type throughout): ObjectId as hex text, integers and strings as
they are, anything else as Extended JSON text.

Snapshot: chunks are `_id` ranges [low, high) found by walking the `_id` index chunk_size entries
at a time; no locks. Collections whose `_id` types are mixed are read as one chunk (a range query
only matches values of the bound's type).

Change stream (replica sets and sharded clusters only; the pre-check says so): one stream per
database with fullDocument 'updateLookup' and a $match on the task's collections. It opens with
startAtOperationTime at a position from current_position() (the cluster time before the snapshot,
so snapshot and stream join with no gap), and later with resumeAfter the saved resume token. Each
change is one event followed by a COMMIT carrying its resume token: any event is a safe
checkpoint. When idle, HEARTBEAT events carry the stream's post-batch resume token.

Options read from ConnectionConfig.options: layout, sample_size (default 1000), id_format ("auto",
or "ejson": every `_id` as Extended JSON, for collections whose `_id` types are mixed in a way the
two ends do not show), heartbeat_interval (seconds, default 1); every other option is passed to
MongoClient.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pymongo.change_stream import ChangeStream
from pymongo.errors import OperationFailure, PyMongoError

from connectors.base import Chunk, Source
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.events import COMMIT, DDL, DELETE, HEARTBEAT, INSERT, UPDATE, ChangeEvent, Position
from connectors.mongodb import MongoClientT, address, error_text, open_client
from connectors.mongodb.catalog import bson_type
from connectors.mongodb.check import NOT_REPLICA_SET, REPLICA_SET_HINT
from connectors.mongodb.connector import MongoDBConnector
from connectors.mongodb.documents import (
    EXTRA_KEY,
    ID_FIELD,
    columns_row,
    columns_schema,
    document_row,
    document_schema,
    id_from_row,
    id_kind_of,
    id_to_row,
    range_filter,
)
from connectors.mongodb.position import MongoPosition, token_time
from connectors.types import TableId, TableSchema

log = logging.getLogger(__name__)

READ_BATCH = 1000
LAYOUTS = ("document", "columns")
ID_FORMATS = ("auto", "ejson")
DEFAULT_SAMPLE = 1000


class MongoDBSource(MongoDBConnector, Source):
    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self._client: MongoClientT | None = None
        self._streams: list[ChangeStream[Any]] = []
        self.layout = config.options.get("layout", "document")
        if self.layout not in LAYOUTS:
            raise ConnectorError(f"source option layout={self.layout!r} is not valid",
                                 hint=f"set source options.layout to one of: {', '.join(LAYOUTS)}")
        self.id_format = config.options.get("id_format", "auto")
        if self.id_format not in ID_FORMATS:
            raise ConnectorError(f"source option id_format={self.id_format!r} is not valid",
                                 hint=f"set source options.id_format to one of: {', '.join(ID_FORMATS)}")
        # As last read: the task reads schemas on this source before streaming, so the stream keeps
        # the `_id` format its snapshot used even if the collection's ends change meanwhile.
        self._schemas: dict[TableId, TableSchema] = {}
        self.sample_size = config.options.get("sample_size", DEFAULT_SAMPLE)
        if not isinstance(self.sample_size, int) or isinstance(self.sample_size, bool) or self.sample_size < 1:
            raise ConnectorError(f"source option sample_size={self.sample_size!r} is not valid",
                                 hint="set source options.sample_size to a positive number of documents")

    def client(self, **overrides: Any) -> MongoClientT:
        return open_client(self.config, **overrides)  # it leaves the platform's own options out

    def _mongo(self) -> MongoClientT:
        if self._client is None:
            self._client = self.client()
        return self._client

    def _error(self, what: str, exc: PyMongoError) -> ConnectorError:
        text = error_text(exc, self.config)
        if isinstance(exc, OperationFailure):
            return ConnectorError(f"{what} on MongoDB at {address(self.config)} failed: {text}",
                                  hint="the user needs the read role on the task's databases")
        return ConnectionFailed(f"{what}: cannot reach MongoDB at {address(self.config)}: {text}",
                                hint="check the server and the network; the task resumes from its checkpoint")

    # Schema and snapshot

    def table_schema(self, table: TableId) -> TableSchema:
        schema = self._schemas[table] = self._read_schema(table)
        return schema

    def _read_schema(self, table: TableId) -> TableSchema:
        database = self._mongo()[table.database]
        try:
            if not database.list_collection_names(filter={"name": table.name}):
                raise ConnectorError(f"collection {table} does not exist on {address(self.config)}",
                                     hint="check the collection name, or refresh the datasource's catalog")
            collection = database[table.name]
            ends = [next(iter(collection.find({}, {ID_FIELD: 1}).sort(ID_FIELD, order).limit(1)), None)
                    for order in (1, -1)]
        except PyMongoError as exc:
            raise self._error(f"reading collection {table}", exc) from exc
        kinds = {id_kind_of(doc[ID_FIELD]) for doc in ends if doc is not None}
        # Empty, or mixed types at the ends: Extended JSON carries any _id.
        id_kind = kinds.pop() if len(kinds) == 1 and self.id_format == "auto" else "ejson"
        if self.layout == "document":
            return document_schema(table, id_kind)
        try:
            sample = list(collection.find({}).sort(ID_FIELD, 1).limit(self.sample_size))
        except PyMongoError as exc:
            raise self._error(f"sampling collection {table}", exc) from exc
        fields: dict[str, set[str]] = {}
        for document in sample:
            for name, value in document.items():
                fields.setdefault(name, set()).add(bson_type(value))
        return columns_schema(table, id_kind, list(fields.items()))

    def _row(self, document: dict[str, Any], schema: TableSchema) -> tuple[Any, ...]:
        layout = schema.extra[EXTRA_KEY]
        if layout["layout"] == "columns":
            return columns_row(document, layout)
        return document_row(document, str(layout["id_kind"]))

    @staticmethod
    def _id_kind(schema: TableSchema) -> str:
        layout = schema.extra.get(EXTRA_KEY)
        if not layout:
            raise ConnectorError(f"{schema.table} has no MongoDB document layout in its schema")
        return str(layout["id_kind"])

    def snapshot_chunks(self, schema: TableSchema, chunk_size: int) -> Iterator[Chunk]:
        id_kind = self._id_kind(schema)
        if id_kind == "ejson":
            yield Chunk(schema.table, 0, None, None)
            return
        collection = self._mongo()[schema.table.database][schema.table.name]
        low: Any = None
        index = 0
        while True:
            query = {} if low is None else {ID_FIELD: {"$gte": low}}
            try:
                found = next(iter(collection.find(query, {ID_FIELD: 1}).sort(ID_FIELD, 1).skip(chunk_size).limit(1)),
                             None)
            except PyMongoError as exc:
                raise self._error(f"splitting {schema.table} into chunks", exc) from exc
            high = None if found is None else found[ID_FIELD]
            yield Chunk(schema.table, index, None if low is None else (id_to_row(low, id_kind),),
                        None if high is None else (id_to_row(high, id_kind),))
            if high is None:
                return
            low, index = high, index + 1

    def read_chunk(self, schema: TableSchema, chunk: Chunk) -> Iterator[tuple[Any, ...]]:
        id_kind = self._id_kind(schema)
        low = None if chunk.low is None else (id_from_row(chunk.low[0], id_kind),)
        high = None if chunk.high is None else (id_from_row(chunk.high[0], id_kind),)
        collection = self._mongo()[schema.table.database][schema.table.name]
        try:
            for document in collection.find(range_filter((ID_FIELD,), low, high),
                                            batch_size=READ_BATCH).sort(ID_FIELD, 1):
                yield self._row(document, schema)
        except PyMongoError as exc:
            raise self._error(f"reading chunk {chunk.index} of {schema.table}", exc) from exc

    # Change stream

    def current_position(self) -> MongoPosition:
        """The cluster time now: a stream opened at it sees every change a later snapshot might miss."""
        try:
            reply = self._mongo().admin.command("hello")
        except PyMongoError as exc:
            raise self._error("reading the cluster time", exc) from exc
        operation_time = reply.get("operationTime") or (reply.get("$clusterTime") or {}).get("clusterTime")
        if operation_time is None:
            raise ConnectorError(f"MongoDB at {address(self.config)} reports no cluster time: it is a standalone "
                                 "server, and change streams need a replica set (a full copy still works)",
                                 hint=REPLICA_SET_HINT)
        return MongoPosition.at(operation_time)

    def changes(self, start: Position, tables: set[TableId]) -> Iterator[ChangeEvent]:
        if not isinstance(start, MongoPosition):
            raise TypeError(f"a MongoDB change stream starts from a MongoPosition, not {type(start).__name__}")
        databases = {table.database for table in tables}
        if len(databases) != 1:
            raise ConnectorError(f"a MongoDB task streams from one database, these tables span {sorted(databases)}",
                                 hint="split the task into one task per database")
        schemas = {table: self._schemas.get(table) or self.table_schema(table) for table in tables}
        return self._stream(start, databases.pop(), schemas)

    def _open(self, start: MongoPosition, database: str, names: list[str]) -> ChangeStream[Any]:
        heartbeat = float(self.config.options.get("heartbeat_interval", 1.0))
        options: dict[str, Any] = {"full_document": "updateLookup",
                                   "max_await_time_ms": max(int(heartbeat * 1000), 1)}
        if start.token is not None:
            options["resume_after"] = start.token
        else:
            options["start_at_operation_time"] = start.cluster_time
        pipeline = [{"$match": {"ns.coll": {"$in": names}}}]
        try:
            stream = self._mongo()[database].watch(pipeline, **options)
        except OperationFailure as exc:
            if exc.code == NOT_REPLICA_SET:
                raise ConnectorError(f"MongoDB at {address(self.config)} cannot open a change stream: it is not a "
                                     "replica set", hint=REPLICA_SET_HINT) from exc
            if exc.code == 286:  # ChangeStreamHistoryLost: the oplog no longer holds the position
                raise ConnectorError(f"the change stream position {start} is no longer in the oplog of "
                                     f"{address(self.config)}",
                                     hint="enlarge the oplog (replSetResizeOplog) and run the task again with a "
                                          "full copy") from exc
            raise self._error("opening the change stream", exc) from exc
        except PyMongoError as exc:
            raise self._error("opening the change stream", exc) from exc
        self._streams.append(stream)
        return stream

    def _stream(self, start: MongoPosition, database: str,
                schemas: dict[TableId, TableSchema]) -> Iterator[ChangeEvent]:
        names = sorted(table.name for table in schemas)
        stream = self._open(start, database, names)
        position = start
        try:
            while stream.alive:
                try:
                    change = stream.try_next()
                except PyMongoError as exc:  # the driver already resumed once on transient errors
                    raise self._error("reading the change stream", exc) from exc
                if change is None:
                    token = stream.resume_token
                    idle_time = token_time(token)
                    if token is not None and idle_time is not None:
                        position = MongoPosition.at(idle_time, token)
                    yield ChangeEvent(HEARTBEAT, None, None, None, None, time.time(), position)
                    continue
                previous = position
                position = MongoPosition.at(change["clusterTime"], change["_id"])
                commit_time = _commit_time(change)
                yield from self._events(change, schemas, database, previous, commit_time)
                yield ChangeEvent(COMMIT, None, None, None, None, commit_time, position)
        finally:
            stream.close()

    @staticmethod
    def _events(change: dict[str, Any], schemas: dict[TableId, TableSchema], database: str,
                position: MongoPosition, commit_time: float) -> Iterator[ChangeEvent]:
        kind = change["operationType"]
        namespace = change.get("ns") or {}
        table = TableId(database, str(namespace.get("coll", "")))
        schema = schemas.get(table)
        if kind in ("insert", "update", "replace", "delete") and schema is not None:
            layout = schema.extra[EXTRA_KEY]
            id_kind = str(layout["id_kind"])
            key_row = (id_to_row(change["documentKey"][ID_FIELD], id_kind),) + (None,) * (len(schema.columns) - 1)
            document = change.get("fullDocument")
            if kind == "delete" or document is None:
                # An update whose document was deleted before the lookup: its delete follows in the
                # stream; applying it now as a delete gives the same end state.
                yield ChangeEvent(DELETE, table, schema, key_row, None, commit_time, position)
            else:
                row = columns_row(document, layout) if layout["layout"] == "columns" else document_row(document,
                                                                                                        id_kind)
                yield ChangeEvent(INSERT if kind == "insert" else UPDATE, table, schema,
                                  None if kind == "insert" else key_row, row, commit_time, position)
        elif kind == "drop" and schema is not None:
            yield ChangeEvent(DDL, table, None, None, None, commit_time, position, ddl=f"DROP TABLE {table.name}")
        elif kind == "rename" and schema is not None:
            new = (change.get("to") or {}).get("coll", "")
            yield ChangeEvent(DDL, table, None, None, None, commit_time, position,
                              ddl=f"RENAME TABLE {table.name} TO {new}")
        elif kind in ("dropDatabase", "invalidate"):
            raise ConnectorError(f"the change stream on {database} ended: {kind}",
                                 hint="the database was dropped or renamed; recreate it and run the task again "
                                      "with a full copy")

    def position_from_json(self, data: dict[str, Any]) -> MongoPosition:
        return MongoPosition.from_json(data)

    def close(self) -> None:
        for stream in self._streams:
            try:
                stream.close()
            except PyMongoError as exc:
                log.debug("closing a change stream: %s", exc)
        self._streams.clear()
        if self._client is not None:
            self._client.close()
            self._client = None


def _commit_time(change: dict[str, Any]) -> float:
    wall = change.get("wallTime")  # MongoDB 6.0+
    if isinstance(wall, datetime):
        return (wall if wall.tzinfo else wall.replace(tzinfo=UTC)).timestamp()
    return float(change["clusterTime"].time)
