"""The MongoDB source: document-layout schemas, snapshots by `_id` ranges, positions, change streams.

Snapshot tests run on nx-27017 and on a real MongoDB; change-stream tests need a replica set and
are skipped, with the reason, on nx-27017.
"""

from __future__ import annotations

import datetime
import itertools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest
from bson import Binary, ObjectId, Timestamp, json_util

from connectors.base import Chunk
from connectors.errors import ConnectorError
from connectors.events import COMMIT, DELETE, HEARTBEAT, INSERT, UPDATE, ChangeEvent
from connectors.mongodb.documents import RELAXED
from connectors.mongodb.position import MongoPosition, token_time
from connectors.mongodb.sink import MongoDBSink
from connectors.mongodb.source import MongoDBSource
from connectors.registry import source_for
from connectors.types import Kind, TableId
from tests.connectors.mongodb.conftest import mongo_config
from tests.servers import MongoTarget

Client = pymongo.MongoClient[dict[str, Any]]


@pytest.fixture
def source(mongo: MongoTarget) -> Iterator[MongoDBSource]:
    opened = MongoDBSource(mongo_config(mongo, heartbeat_interval=0.2, server_id=5, zero_date_policy="null"))
    yield opened
    opened.close()


def snapshot(source: MongoDBSource, table: TableId, chunk_size: int) -> tuple[list[Chunk], list[tuple[Any, ...]]]:
    schema = source.table_schema(table)
    chunks = list(source.snapshot_chunks(schema, chunk_size))
    rows = [row for chunk in chunks for row in source.read_chunk(schema, chunk)]
    return chunks, rows


def test_registry_gives_the_mongodb_source(mongo: MongoTarget) -> None:
    assert isinstance(source_for(mongo_config(mongo)), MongoDBSource)


@pytest.mark.parametrize(("ids", "kind", "id_type"), [
    ([ObjectId() for _ in range(3)], "objectId", Kind.STRING), ([3, 1, 2], "int", Kind.INT),
    (["b", "a"], "string", Kind.STRING), ([1, "a"], "ejson", Kind.STRING), ([], "ejson", Kind.STRING)])
def test_a_collection_has_the_document_layout_with_its_id_type(
        source: MongoDBSource, mongo_db: str, mongo_client: Client, ids: list[Any], kind: str, id_type: Kind) -> None:
    mongo_client[mongo_db].create_collection("c")
    if ids:
        mongo_client[mongo_db]["c"].insert_many([{"_id": i} for i in ids])
    schema = source.table_schema(TableId(mongo_db, "c"))
    assert schema.column_names == ("_id", "doc") and schema.key_columns == ("_id",)
    assert schema.columns[0].type.kind == id_type and schema.columns[1].type.kind == Kind.JSON
    assert schema.extra["mongodb"] == {"layout": "document", "id_kind": kind}


def test_a_missing_collection_is_a_clear_error(source: MongoDBSource, mongo_db: str) -> None:
    with pytest.raises(ConnectorError, match="does not exist") as raised:
        source.table_schema(TableId(mongo_db, "nope"))
    assert "collection name" in raised.value.hint


def test_snapshot_chunks_cover_every_document_once_in_id_order(source: MongoDBSource, mongo_db: str,
                                                               mongo_client: Client) -> None:
    documents: list[dict[str, Any]] = [
        {"_id": ObjectId(), "n": i, "nested": {"list": [i, "x"]}, "at": datetime.datetime(2024, 1, 1, 0, 0, i),
         "raw": Binary(bytes([i]))} for i in range(50)]
    mongo_client[mongo_db]["c"].insert_many(documents)
    chunks, rows = snapshot(source, TableId(mongo_db, "c"), chunk_size=7)
    assert len(chunks) == 8 and chunks[0].low is None and chunks[-1].high is None
    assert all(a.high == b.low for a, b in itertools.pairwise(chunks))  # adjacent, no gap, no overlap
    assert [row[0] for row in rows] == sorted(str(d["_id"]) for d in documents)
    by_id = {str(d["_id"]): d for d in documents}
    for doc_id, text in rows:
        rest = json_util.loads(text, json_options=RELAXED)
        want = by_id[doc_id]
        assert rest["n"] == want["n"] and rest["nested"] == want["nested"] and bytes(rest["raw"]) == bytes(want["raw"])
        assert rest["at"].replace(tzinfo=None) == want["at"]
        assert "_id" not in rest


def test_int_ids_split_into_ranges_and_chunks_restore_from_json(mongo: MongoTarget, source: MongoDBSource,
                                                                mongo_db: str, mongo_client: Client) -> None:
    mongo_client[mongo_db]["c"].insert_many([{"_id": i, "v": i * 2} for i in range(1, 26)])
    chunks, rows = snapshot(source, TableId(mongo_db, "c"), chunk_size=10)
    bounds = [c.high[0] for c in chunks[:-1]]  # type: ignore[index]
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds)
    if mongo.is_real_mongodb:
        assert bounds == [11, 21]
    else:  # nx-27017 sorts _id as text (1, 10, 11, ...): chunks are uneven, but ranges compare numbers
        assert bounds == [19]
    assert sorted(row[0] for row in rows) == list(range(1, 26))  # each document exactly once
    assert json.loads(dict(rows)[5]) == {"v": 10}
    schema = source.table_schema(TableId(mongo_db, "c"))
    restored = Chunk.from_json(json.loads(json.dumps(chunks[-1].to_json())))
    assert sorted(row[0] for row in source.read_chunk(schema, restored)) == list(range(bounds[-1], 26))


def test_mixed_id_types_are_read_as_one_chunk_of_extended_json_ids(source: MongoDBSource, mongo_db: str,
                                                                   mongo_client: Client) -> None:
    oid = ObjectId()
    mongo_client[mongo_db]["c"].insert_many([{"_id": 1}, {"_id": "a"}, {"_id": oid}])
    chunks, rows = snapshot(source, TableId(mongo_db, "c"), chunk_size=1)
    assert len(chunks) == 1
    assert sorted(row[0] for row in rows) == sorted(['1', '"a"', json.dumps({"$oid": str(oid)})])


def test_documents_copy_to_a_mongodb_sink_unchanged(mongo: MongoTarget, source: MongoDBSource, mongo_db: str,
                                                    mongo_client: Client) -> None:
    documents = [{"_id": ObjectId(), "name": f"n{i}", "tags": ["a", i], "sub": {"at": datetime.datetime(2024, 5, 1)},
                  "none": None, "flag": i % 2 == 0} for i in range(12)]
    mongo_client[mongo_db]["src"].insert_many(documents)
    table, target = TableId(mongo_db, "src"), TableId(mongo_db, "dst")
    schema = source.table_schema(table)
    sink = MongoDBSink(mongo_config(mongo))
    sink.prepare(schema, target)
    for chunk in source.snapshot_chunks(schema, 5):
        sink.load_chunk(schema, target, chunk, source.read_chunk(schema, chunk))
    sink.close()
    assert list(mongo_client[mongo_db]["dst"].find().sort("_id", 1)) == documents


def test_positions_order_by_cluster_time_then_token_and_round_trip_json() -> None:
    token_a = {"_data": "8265A1B2C3000000012B022C0100296E5A1004"}
    token_b = {"_data": "8265A1B2C3000000012B022C0100296E5A1005"}
    start = MongoPosition(0x65A1B2C3, 1)
    after_a, after_b = MongoPosition(0x65A1B2C3, 1, token_a), MongoPosition(0x65A1B2C3, 1, token_b)
    later = MongoPosition(0x65A1B2C3, 2)
    assert start < after_a < after_b < later
    assert min(after_b, start) == start
    assert MongoPosition.from_json(json.loads(json.dumps(after_a.to_json()))) == after_a
    assert token_time(token_a) == Timestamp(0x65A1B2C3, 1)
    assert token_time({"_data": "zz"}) is None
    with pytest.raises(ValueError, match="time"):
        MongoPosition.from_json({"token": token_a})


def test_current_position_on_a_standalone_server_says_a_replica_set_is_needed(mongo: MongoTarget,
                                                                              source: MongoDBSource) -> None:
    if mongo.is_real_mongodb:
        pytest.skip("the server given by DTS_TEST_MONGO_URI is a replica set")
    with pytest.raises(ConnectorError, match="replica set") as raised:
        source.current_position()
    assert "rs.initiate()" in raised.value.hint


# Change streams: a real replica set only -------------------------------------------------------------

def collect(source: MongoDBSource, start: MongoPosition, table: TableId, until: int,
            timeout: float = 30.0) -> list[ChangeEvent]:
    """Row and commit events from start until `until` row events arrived (heartbeats dropped)."""
    events: list[ChangeEvent] = []
    deadline = time.monotonic() + timeout
    stream = source.changes(start, {table})
    for event in stream:
        if event.op != HEARTBEAT:
            events.append(event)
        if sum(1 for e in events if e.op in (INSERT, UPDATE, DELETE)) >= until or time.monotonic() > deadline:
            break
    stream.close()  # type: ignore[attr-defined]
    return events


def test_changes_arrive_in_order_with_full_documents(replica_set: MongoTarget, source: MongoDBSource,
                                                     mongo_db: str, mongo_client: Client) -> None:
    table = TableId(mongo_db, "c")
    mongo_client[mongo_db].create_collection("c")
    start = source.current_position()
    collection = mongo_client[mongo_db]["c"]
    collection.insert_one({"_id": 1, "v": "a"})
    collection.update_one({"_id": 1}, {"$set": {"v": "b"}})
    collection.replace_one({"_id": 1}, {"v": "c", "w": 1})
    collection.delete_one({"_id": 1})
    events = collect(source, start, table, until=4)
    rows = [e for e in events if e.op != COMMIT]
    assert [e.op for e in rows] == [INSERT, UPDATE, UPDATE, DELETE]
    assert json.loads(rows[0].after[1]) == {"v": "a"} and rows[0].after[0] == 1  # type: ignore[index]
    # updateLookup gives the document as it is at lookup time: the update may see a later state.
    assert json.loads(rows[2].after[1]) == {"v": "c", "w": 1}  # type: ignore[index]
    assert rows[3].before == (1, None) and rows[3].key() == (1,)
    commits = [e.position for e in events if e.op == COMMIT]
    assert len(commits) == 4 and all(isinstance(p, MongoPosition) and p.token for p in commits)
    assert commits == sorted(commits)  # type: ignore[type-var]


def test_resume_from_a_commit_token_replays_nothing(replica_set: MongoTarget, source: MongoDBSource, mongo_db: str,
                                                    mongo_client: Client) -> None:
    table = TableId(mongo_db, "c")
    mongo_client[mongo_db].create_collection("c")
    start = source.current_position()
    collection = mongo_client[mongo_db]["c"]
    collection.insert_many([{"_id": i} for i in range(1, 4)])
    first = collect(source, start, table, until=2)
    saved = MongoPosition.from_json(json.loads(json.dumps(
        [e for e in first if e.op == COMMIT][-1].position.to_json())))  # type: ignore[union-attr]
    collection.insert_one({"_id": 4})
    rest = collect(source, saved, table, until=2)
    assert [e.after[0] for e in rest if e.op == INSERT] == [3, 4]  # type: ignore[index]


def test_a_stream_from_current_position_sees_writes_made_during_a_snapshot(
        replica_set: MongoTarget, source: MongoDBSource, mongo_db: str, mongo_client: Client) -> None:
    table = TableId(mongo_db, "c")
    collection = mongo_client[mongo_db]["c"]
    collection.insert_many([{"_id": i} for i in range(1, 101)])
    start = source.current_position()
    writer = threading.Thread(target=lambda: collection.insert_many([{"_id": i} for i in range(101, 111)]))
    writer.start()
    snapshot(source, table, chunk_size=30)
    writer.join()
    events = collect(source, start, table, until=10)
    assert sorted(e.after[0] for e in events if e.op == INSERT) == list(range(101, 111))  # type: ignore[index]


def test_columns_layout_types_sampled_fields_and_keeps_the_rest_as_json(mongo: MongoTarget, mongo_db: str,
                                                                        mongo_client: Client) -> None:
    at = datetime.datetime(2024, 3, 1, 12, 0, 0, 250000)
    sampled: list[dict[str, Any]] = [
        {"_id": i, "name": f"n{i}", "n": i, "at": at, "tags": ["a", i], "mixed": i if i % 2 else "s",
         "maybe": None if i == 1 else True} for i in range(1, 5)]
    later: list[dict[str, Any]] = [  # beyond the sample; single-digit ids: nx-27017 sorts _id as text
        {"_id": 5, "name": "late", "n": "not a number", "extra": {"deep": 1}}, {"_id": 6, "name": "nulls", "n": None}]
    mongo_client[mongo_db]["c"].insert_many(sampled + later)
    source = MongoDBSource(mongo_config(mongo, layout="columns", sample_size=4))
    schema = source.table_schema(TableId(mongo_db, "c"))
    kinds = {c.name: (c.type.kind, c.type.bits) for c in schema.columns}
    assert schema.column_names == ("_id", "name", "n", "at", "tags", "mixed", "maybe", "_rest")
    assert kinds["n"] == (Kind.INT, 32) and kinds["name"][0] == Kind.STRING and kinds["maybe"][0] == Kind.BOOL
    assert kinds["at"][0] == Kind.TIMESTAMP and kinds["tags"][0] == Kind.JSON and kinds["mixed"][0] == Kind.JSON
    rows = {row[0]: dict(zip(schema.column_names, row, strict=True))
            for chunk in source.snapshot_chunks(schema, 3) for row in source.read_chunk(schema, chunk)}
    source.close()
    assert sorted(rows) == [1, 2, 3, 4, 5, 6]
    assert rows[2]["at"] == at.replace(tzinfo=datetime.UTC) and json.loads(rows[2]["tags"]) == ["a", 2]
    assert json.loads(rows[2]["mixed"]) == "s" and rows[3]["mixed"] == "3" and json.loads(rows[2]["_rest"]) == {}
    # A field outside the sample, and a value of another type than its column's, are kept in _rest.
    assert rows[5]["n"] is None and json.loads(rows[5]["_rest"]) == {"n": "not a number", "extra": {"deep": 1}}
    assert rows[6]["n"] is None and rows[6]["tags"] is None and json.loads(rows[6]["_rest"]) == {}


def test_a_bad_layout_option_is_named(mongo: MongoTarget) -> None:
    with pytest.raises(ConnectorError) as raised:
        MongoDBSource(mongo_config(mongo, layout="flat"))
    assert "layout" in str(raised.value) and "options.layout" in raised.value.hint


def test_an_id_of_another_type_between_the_ends_names_the_fix(mongo: MongoTarget, mongo_db: str,
                                                               mongo_client: Client) -> None:
    mongo_client[mongo_db]["c"].insert_many([{"_id": 1}, {"_id": 2.5}, {"_id": 3}])  # ends are ints
    table = TableId(mongo_db, "c")
    source = MongoDBSource(mongo_config(mongo))
    with pytest.raises(ConnectorError, match="not of the collection's _id type int") as raised:
        snapshot(source, table, chunk_size=10)
    assert "id_format" in raised.value.hint
    source.close()
    source = MongoDBSource(mongo_config(mongo, id_format="ejson"))
    _, rows = snapshot(source, table, chunk_size=10)
    source.close()
    assert sorted(json_util.loads(row[0]) for row in rows) == [1, 2.5, 3]
