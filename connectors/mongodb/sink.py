"""The MongoDB sink: collections for tables, snapshot chunks and merged change batches by `_id`.

- A table becomes a collection (TableId.database is the MongoDB database). Rows become documents
  as connectors.mongodb.documents describes (the `_id` is the key; composite keys a sub-document).
- load_chunk: deletes the documents in the chunk's `_id` range, then inserts the chunk's documents
  in order. A chunk that ran halfway and runs again leaves no duplicates.
- write: per table one ordered bulk_write of DeleteOne then ReplaceOne(upsert=True) by `_id`; a
  merged batch holds one final state per key, and ordered writes keep the deletes of a unique-key
  swap before the upserts. Replaying a batch changes nothing (invariant 2). MongoDB has no
  multi-collection transaction outside replica sets, so a batch is not atomic across tables; the
  checkpoint is still saved only after every write returned, so a crash replays it.
- Dirty rows (a value MongoDB cannot hold exactly, or a write the server rejects, e.g. a duplicate
  unique value) are raised as DirtyRowError, or handed to on_dirty while the rest is written.
- apply_ddl: documents have no fixed columns, so column changes need nothing; DROP, TRUNCATE and
  RENAME TABLE act on the collection.

Options read from ConnectionConfig.options (besides MongoClient options, which every other key
is passed to): id_mode, decimal_mode, datetime_mode (see documents.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from pymongo import DeleteOne, InsertOne, ReplaceOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure, PyMongoError

from connectors.base import Batch, Chunk, Sink
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.events import DDL, ChangeEvent
from connectors.mongodb import MongoClientT, address, error_text, open_client
from connectors.mongodb.connector import MongoDBConnector
from connectors.mongodb.documents import DirtyValue, DocumentMapper, DocumentOptions, range_filter
from connectors.quarantine import DirtyRowError, OnDirty, quarantined
from connectors.spec import IF_EXISTS
from connectors.sql_ddl import parse_statement
from connectors.types import TableId, TableSchema

log = logging.getLogger(__name__)

INSERT_BATCH = 1000
Op = InsertOne[dict[str, Any]] | ReplaceOne[dict[str, Any]] | DeleteOne
Document = dict[str, Any]


class MongoDBSink(MongoDBConnector, Sink):
    """Writes canonical rows as documents. One client (thread-safe, pooled)."""

    supports_sink: ClassVar[bool] = True

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self.options = DocumentOptions.from_options(config.options)
        self._client: MongoClientT | None = None
        self._mappers: dict[TableSchema, DocumentMapper] = {}
        self._subdocument_ids: bool | None = None  # can the server match a sub-document _id exactly?

    def client(self, **overrides: Any) -> MongoClientT:
        return open_client(self.config, **overrides)  # it leaves the platform's own options out

    def _mongo(self) -> MongoClientT:
        if self._client is None:
            self._client = self.client()
        return self._client

    def collection(self, target: TableId) -> Collection[Document]:
        return self._mongo()[target.database][target.name]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _id_filter(self, mapper: DocumentMapper, target: TableId, doc_id: Any) -> dict[str, Any]:
        """The filter matching one `_id`: {"_id": value}, which the `_id` index serves.

        A server that cannot match a sub-document `_id` exactly (nx-27017 reads it as operators)
        gets the equivalent per-part filter {"_id.a": .., "_id.b": ..} instead; probed once.
        """
        if not isinstance(doc_id, dict):
            return {"_id": doc_id}
        if self._subdocument_ids is None:
            collection = self.collection(target)
            try:
                collection.find_one({"_id": {"dts_probe": 1}})
                # An empty collection proves nothing (nx-27017 only parses the filter against documents).
                if collection.find_one({}, {"_id": 1}) is not None:
                    self._subdocument_ids = True
            except OperationFailure:
                self._subdocument_ids = False
        if self._subdocument_ids is not False:
            return {"_id": doc_id}
        return {f"_id.{name}": value for name, value in doc_id.items()}

    def mapper(self, schema: TableSchema) -> DocumentMapper:
        mapper = self._mappers.get(schema)
        if mapper is None:
            mapper = self._mappers[schema] = DocumentMapper.build(schema, self.options)
        return mapper

    # Collections

    def exists(self, target: TableId) -> bool:
        return target.name in self._mongo()[target.database].list_collection_names(filter={"name": target.name})

    def prepare(self, schema: TableSchema, target: TableId, *, if_exists: str = "keep",
                defer_indexes: bool = False) -> None:
        """Create the collection (if_exists: keep, drop, truncate or fail), with its unique indexes
        unless deferred to finish_table."""
        if if_exists not in IF_EXISTS:
            raise ValueError(f"if_exists must be one of {', '.join(IF_EXISTS)}, not {if_exists!r}")
        database = self._mongo()[target.database]
        if self.exists(target):
            if if_exists == "fail":
                raise ConnectorError(f"target collection {target} already exists",
                                     hint="choose if_exists keep, drop or truncate, or drop the collection")
            if if_exists == "drop":
                database.drop_collection(target.name)
            elif if_exists == "truncate":
                database[target.name].delete_many({})
        if not self.exists(target):
            database.create_collection(target.name)
        if not defer_indexes:
            self.finish_table(schema, target)

    def finish_table(self, schema: TableSchema, target: TableId) -> None:
        """Unique indexes for the table's unique keys other than the one `_id` holds (idempotent)."""
        if schema.extra.get("mongodb") is not None:
            return  # a collection copied from MongoDB: its secondary indexes are not part of the schema
        key = schema.key_columns
        collection = self.collection(target)
        for unique in schema.unique_keys:
            if tuple(unique) == tuple(key):
                continue
            name = "dts_unique_" + "_".join(unique)
            collection.create_index([(column, 1) for column in unique], unique=True, name=name)

    # Snapshot chunks

    def load_chunk(self, schema: TableSchema, target: TableId, chunk: Chunk, rows: Iterable[tuple[Any, ...]],
                   *, on_dirty: OnDirty | None = None) -> int:
        """Replace the chunk's `_id` range with the rows' documents; returns the documents written."""
        mapper = self.mapper(schema)
        collection = self.collection(target)
        position = {"chunk": chunk.to_json()}
        if mapper.key_indexes:
            low = None if chunk.low is None else mapper.id_parts(chunk.low)
            high = None if chunk.high is None else mapper.id_parts(chunk.high)
            self._delete_range(mapper, target, range_filter(mapper.id_fields(), low, high))
        written = 0
        pending: list[tuple[Op, Sequence[Any]]] = []
        for row in rows:
            document = self._document(mapper, row, target, position, on_dirty)
            if document is not None:
                pending.append((InsertOne(document), row))
            if len(pending) >= INSERT_BATCH:
                written += self._bulk(collection, pending, schema, target, position, on_dirty)
                pending = []
        if pending:
            written += self._bulk(collection, pending, schema, target, position, on_dirty)
        return written

    def _delete_range(self, mapper: DocumentMapper, target: TableId, where: dict[str, Any]) -> None:
        """Delete the documents a range filter finds, by `_id`.

        Found with find() (the `_id` index serves it) and deleted one `_id` at a time in ordered
        bulk writes: on a first load the range is empty and this costs one indexed query. (nx-27017
        compares numbers as text in delete filters, though not in find: this is exact on both.)
        """
        collection = self.collection(target)
        try:
            found = collection.find(where, {"_id": 1}, batch_size=INSERT_BATCH)
            batch: list[DeleteOne] = []
            for document in found:
                batch.append(DeleteOne(self._id_filter(mapper, target, document["_id"])))
                if len(batch) >= INSERT_BATCH:
                    collection.bulk_write(batch, ordered=False)
                    batch = []
            if batch:
                collection.bulk_write(batch, ordered=False)
        except PyMongoError as exc:
            raise self._failure(f"clearing a chunk's range in MongoDB collection {target}", exc) from exc

    # Change batches

    def write(self, batch: Batch, *, on_dirty: OnDirty | None = None) -> None:
        """Per table, one ordered bulk_write: deletes by `_id`, then upserts (ReplaceOne, upsert) by `_id`."""
        for table_batch in batch.tables.values():
            schema, target = table_batch.schema, table_batch.target
            mapper = self.mapper(schema)
            ops: list[tuple[Op, Sequence[Any]]] = []
            for row in table_batch.appends:  # a keyless table: appended, at least once
                document = self._document(mapper, row, target, None, on_dirty)
                if document is not None:
                    ops.append((InsertOne(document), row))
            if (table_batch.upserts or table_batch.deletes) and not mapper.key_indexes:
                raise ConnectorError(f"table {schema.table} has no primary key or NOT NULL unique key, so changes "
                                     "cannot be applied by key",
                                     hint="add a primary key at the source, or leave the table out of the task")
            for key in table_batch.deletes:
                try:
                    ops.append((DeleteOne(self._id_filter(mapper, target, mapper.id_of(key))), key))
                except DirtyValue as exc:  # a key the sink could never have written: nothing to delete
                    log.warning("delete of %s in %s: %s; nothing to delete", key, target, exc)
            for row in table_batch.upserts.values():
                document = self._document(mapper, row, target, None, on_dirty)
                if document is not None:
                    ops.append((ReplaceOne(self._id_filter(mapper, target, document["_id"]), document, upsert=True),
                                row))
            if ops:
                self._bulk(self.collection(target), ops, schema, target, None, on_dirty)

    def _document(self, mapper: DocumentMapper, row: Sequence[Any], target: TableId,
                  position: dict[str, Any] | None, on_dirty: OnDirty | None) -> Document | None:
        try:
            return mapper.document(row)
        except DirtyValue as exc:
            self._reject(mapper.schema, row, exc.column, str(exc), target, position, on_dirty)
            return None

    @staticmethod
    def _reject(schema: TableSchema, row: Sequence[Any], column: str | None, reason: str, target: TableId,
                position: dict[str, Any] | None, on_dirty: OnDirty | None) -> None:
        dirty = quarantined(schema, row, column, reason, target=str(target), position=position)
        log.warning("dirty row in %s: key %s, column %s: %s", schema.table, dirty.key, column, reason)
        if on_dirty is None:
            raise DirtyRowError([dirty])
        on_dirty(dirty)

    def _bulk(self, collection: Collection[Document], ops: list[tuple[Op, Sequence[Any]]], schema: TableSchema,
              target: TableId, position: dict[str, Any] | None, on_dirty: OnDirty | None) -> int:
        """Ordered bulk writes; a rejected operation is reported and the ones after it are sent again.

        Ordered, so each key's operations apply in order and the server stops at the first error:
        everything before it is applied, nothing after it.
        """
        applied = 0
        start = 0
        while start < len(ops):
            try:
                collection.bulk_write([op for op, _ in ops[start:]], ordered=True)
                return applied + len(ops) - start
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors") or []
                if not errors:
                    raise
                error = errors[0]
                failed = start + int(error["index"])
                applied += failed - start
                op, values = ops[failed]
                if isinstance(op, DeleteOne):
                    raise ConnectorError(f"deleting {values!r} from {target} failed: {error.get('errmsg')}") from exc
                self._reject(schema, values, None, f"MongoDB refused the document: {error.get('errmsg')} "
                                                   f"(code {error.get('code')})", target, position, on_dirty)
                start = failed + 1
            except PyMongoError as exc:
                raise self._failure(f"writing to MongoDB collection {target}", exc) from exc
        return applied

    def _failure(self, what: str, exc: PyMongoError) -> ConnectorError:
        """A lost or unreachable server is worth retrying (the task resumes); anything else is not."""
        text = error_text(exc, self.config)
        if isinstance(exc, ConnectionFailure):
            return ConnectionFailed(f"{what}: cannot reach MongoDB at {address(self.config)}: {text}",
                                    hint="check the server and the network; the task resumes from its checkpoint")
        return ConnectorError(f"{what} failed: {text}",
                              hint="check the server's message and the user's readWrite role on the database")

    # Schema changes

    def apply_ddl(self, event: ChangeEvent, target: TableId) -> None:
        """Table-level DDL on the collection; column changes need nothing (documents have no fixed shape)."""
        if event.op != DDL:
            raise ValueError(f"not a DDL event: {event.op}")
        parsed = parse_statement(event.ddl or "")
        database = self._mongo()[target.database]
        if parsed.kind == "drop":
            database.drop_collection(target.name)
        elif parsed.kind == "truncate":
            database[target.name].delete_many({})
        elif parsed.table_renames:  # RENAME TABLE a TO b, ALTER TABLE a RENAME TO b
            source_name = event.table.name if event.table else target.name
            for old, new in parsed.table_renames:
                # The new name comes from the statement, in the target's database (as the SQL sinks do).
                if old == source_name and self.exists(target):
                    database[target.name].rename(new, dropTarget=False)
        elif parsed.kind == "create" and event.schema is not None:
            self.prepare(event.schema, target)
        self._mappers.clear()  # the schema changed: rows now come with the event's schema
        log.info("DDL on %s: %s", target, event.ddl)
