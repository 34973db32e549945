"""The MongoDB sink on the test server: documents, `_id` ranges, ordered bulk writes, dirty rows."""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pymongo
import pytest
from bson import Decimal128

from connectors.base import Batch, Chunk, TableBatch
from connectors.errors import ConnectionFailed, ConnectorError, is_transient
from connectors.events import DDL, ChangeEvent
from connectors.mongodb.sink import MongoDBSink
from connectors.quarantine import DirtyRowError, QuarantinedRow
from connectors.registry import sink_for
from connectors.types import Kind, TableId, TableSchema
from dts.localservers import free_port
from tests.connectors.mongodb.conftest import mongo_config
from tests.connectors.sinks.data import ALL_TYPES, ITEMS, ODD, ROW_MAX, ROW_MIN, col, item
from tests.servers import MongoTarget

Client = pymongo.MongoClient[dict[str, Any]]


@pytest.fixture
def sink(mongo: MongoTarget) -> Iterator[MongoDBSink]:
    opened = MongoDBSink(mongo_config(mongo))
    yield opened
    opened.close()


def docs(client: Client, target: TableId) -> list[dict[str, Any]]:
    return list(client[target.database][target.name].find({}).sort("_id", 1))


def whole(schema: TableSchema) -> Chunk:
    return Chunk(schema.table, 0, None, None)


def test_registry_gives_the_mongodb_sink(mongo: MongoTarget) -> None:
    assert isinstance(sink_for(mongo_config(mongo)), MongoDBSink)


@pytest.mark.parametrize("option", ["id_mode", "decimal_mode", "datetime_mode"])
def test_it_rejects_a_bad_option_naming_it(mongo: MongoTarget, option: str) -> None:
    with pytest.raises(ConnectorError) as raised:
        MongoDBSink(mongo_config(mongo, **{option: "nonsense"}))
    assert option in str(raised.value) and f"options.{option}" in raised.value.hint


def test_rows_become_documents_by_the_type_mapping(mongo: MongoTarget, mongo_db: str, mongo_client: Client) -> None:
    decimal_mode = "decimal128" if mongo.is_real_mongodb else "string"
    sink = MongoDBSink(mongo_config(mongo, datetime_mode="string", decimal_mode=decimal_mode))
    target = TableId(mongo_db, "all_types")
    sink.prepare(ALL_TYPES, target)
    assert sink.load_chunk(ALL_TYPES, target, whole(ALL_TYPES), [ROW_MIN]) == 1
    (doc,) = docs(mongo_client, target)
    sink.close()
    dec = "-99999999999999999999999999999999999.000000000000000000000000000001"
    assert doc["_id"] == 0 and doc["id"] == 0  # the key is the _id, and stays a field
    assert (doc["i8"], doc["i64"], doc["flag"], doc["bits12"], doc["yr"]) == (-128, -9223372036854775808, False, 0,
                                                                               1901)
    assert doc["dec_money"] == (Decimal128("-0.01") if mongo.is_real_mongodb else "-0.01")
    if not mongo.is_real_mongodb:
        assert doc["dec_big"] == dec  # exact text, all 66 digits
    assert doc["name"] == "" and doc["mood"] == "happy" and doc["tags"] == ""
    assert bytes(doc["blob"]) == b"" and bytes(doc["hash"]) == b"\x00" * 16
    assert doc["doc"] == []  # JSON columns are parsed into BSON values
    assert doc["day"] == datetime.datetime(1000, 1, 1)  # a date is midnight UTC
    assert doc["span"] == "-838:59:59"
    assert doc["at"] == "1000-01-01T00:00:00.000001"  # datetime_mode 'string' keeps microseconds
    assert doc["stamp"] == "1970-01-01T00:00:01.000001+00:00"
    stored_uuid = doc["uid"]
    assert (stored_uuid if isinstance(stored_uuid, uuid.UUID) else uuid.UUID(bytes=bytes(stored_uuid))) == ROW_MIN[-1]


def test_dates_keep_milliseconds_and_finer_digits_are_dirty(sink: MongoDBSink, mongo_db: str,
                                                            mongo_client: Client) -> None:
    schema = TableSchema(TableId("src", "events"), (col("id", Kind.INT, bits=32, nullable=False),
                                                    col("at", Kind.DATETIME, fsp=6)), primary_key=("id",))
    target = TableId(mongo_db, "events")
    sink.prepare(schema, target)
    fine = datetime.datetime(2024, 1, 2, 3, 4, 5, 123000)
    with pytest.raises(DirtyRowError) as raised:
        sink.load_chunk(schema, target, whole(schema), [(1, fine), (2, fine.replace(microsecond=123456))])
    assert raised.value.column == "at" and raised.value.key == (2,)
    assert "datetime_mode='string'" in raised.value.reason
    # Values are converted before a bulk write is sent: nothing of that write reached the server.
    assert docs(mongo_client, target) == []
    sink.load_chunk(schema, target, whole(schema), [(1, fine)])
    assert [d["at"] for d in docs(mongo_client, target)] == [fine]  # milliseconds are kept exactly


def test_values_beyond_int64_are_quarantined_and_the_rest_written(sink: MongoDBSink, mongo_db: str,
                                                                  mongo_client: Client) -> None:
    target = TableId(mongo_db, "items")
    sink.prepare(ITEMS, target)
    wide = TableSchema(ITEMS.table, (col("id", Kind.INT, bits=64, unsigned=True, nullable=False),
                                     col("name", Kind.STRING, length=32)), primary_key=("id",))
    dirty: list[QuarantinedRow] = []
    written = sink.load_chunk(wide, target, whole(wide), [(1, "a"), (ROW_MAX[0], "huge"), (3, "c")],
                              on_dirty=dirty.append)
    assert written == 2 and [d["_id"] for d in docs(mongo_client, target)] == [1, 3]
    assert len(dirty) == 1 and dirty[0].column == "id" and dirty[0].key == (ROW_MAX[0],)
    assert "2**63-1" in dirty[0].error and dirty[0].position == {"chunk": whole(wide).to_json()}


def test_a_rerun_chunk_replaces_its_id_range_only(sink: MongoDBSink, mongo_db: str, mongo_client: Client) -> None:
    target = TableId(mongo_db, "items")
    sink.prepare(ITEMS, target)
    sink.load_chunk(ITEMS, target, whole(ITEMS), [item(i) for i in range(1, 601)])
    # Row 300 was deleted at the source and row 400 changed before the chunk [251, 501) ran again.
    # (Bounds of several digits: a range compared as text would also take 3, 26, 5 and 50.)
    rerun = Chunk(ITEMS.table, 1, (251,), (501,))
    rows = [item(i, "v2" if i == 400 else None) for i in range(251, 501) if i != 300]
    assert sink.load_chunk(ITEMS, target, rerun, rows) == 249
    found = {d["_id"]: d["name"] for d in docs(mongo_client, target)}
    assert sorted(found) == [i for i in range(1, 601) if i != 300]
    assert found[400] == "v2" and found[3] == "item 3" and found[501] == "item 501"
    first = docs(mongo_client, target)[0]
    price = first.pop("price")
    assert first == {"_id": 1, "id": 1, "name": "item 1", "qty": 10}
    assert price in ("0.25", Decimal128(Decimal("0.25")))  # decimal_mode string on nx-27017, Decimal128 on MongoDB


def test_composite_keys_are_sub_documents_and_ranges_compare_part_by_part(
        sink: MongoDBSink, mongo_db: str, mongo_client: Client) -> None:
    target = TableId(mongo_db, "odd")
    sink.prepare(ODD, target)
    rows = [(tenant, n, f"{tenant}{n}", n) for tenant in ("a", "b", "c") for n in (1, 2, 3)]
    sink.load_chunk(ODD, target, whole(ODD), rows)
    ids = [d["_id"] for d in docs(mongo_client, target)]
    assert {"tenant": "a", "Id%": 1} in ids and len(ids) == 9
    # [("a", 3), ("b", 2)): only a3 and b1 are in it; both are gone from the source.
    assert sink.load_chunk(ODD, target, Chunk(ODD.table, 1, ("a", 3), ("b", 2)), []) == 0
    left = sorted((d["tenant"], d["Id%"]) for d in docs(mongo_client, target))
    assert left == [("a", 1), ("a", 2), ("b", 2), ("b", 3), ("c", 1), ("c", 2), ("c", 3)]


def test_write_applies_deletes_then_upserts_and_a_replay_changes_nothing(
        sink: MongoDBSink, mongo_db: str, mongo_client: Client) -> None:
    target = TableId(mongo_db, "items")
    sink.prepare(ITEMS, target)
    sink.load_chunk(ITEMS, target, whole(ITEMS), [item(i) for i in range(1, 6)])
    # A key change 5 -> 50 (delete of the old key, upsert of the new), an update and a delete.
    batch = Batch({ITEMS.table: TableBatch(ITEMS, target, upserts={(2,): item(2, "two v2"), (50,): item(50, "moved")},
                                           deletes={(5,), (3,)})})
    sink.write(batch)
    after = docs(mongo_client, target)
    sink.write(batch)
    assert docs(mongo_client, target) == after
    assert {d["_id"]: d["name"] for d in after} == {1: "item 1", 2: "two v2", 4: "item 4", 50: "moved"}


def test_id_mode_document_makes_every_id_a_sub_document(mongo: MongoTarget, mongo_db: str,
                                                        mongo_client: Client) -> None:
    sink = MongoDBSink(mongo_config(mongo, id_mode="document"))
    target = TableId(mongo_db, "items")
    sink.prepare(ITEMS, target)
    sink.write(Batch({ITEMS.table: TableBatch(ITEMS, target, upserts={(7,): item(7)})}))
    sink.write(Batch({ITEMS.table: TableBatch(ITEMS, target, deletes={(7,)}, upserts={(8,): item(8)})}))
    assert [d["_id"] for d in docs(mongo_client, target)] == [{"id": 8}]
    sink.close()


def test_a_duplicate_unique_value_is_refused_by_the_server_and_quarantined(
        sink: MongoDBSink, mongo_db: str, mongo_client: Client) -> None:
    schema = TableSchema(TableId("src", "users"), (col("id", Kind.INT, bits=32, nullable=False),
                                                   col("email", Kind.STRING, length=64, nullable=False)),
                         primary_key=("id",), unique_keys=(("email",),))
    target = TableId(mongo_db, "users")
    sink.prepare(schema, target)
    sink.write(Batch({schema.table: TableBatch(schema, target, upserts={(1,): (1, "a@x")})}))
    batch = Batch({schema.table: TableBatch(schema, target, upserts={(2,): (2, "a@x"), (3,): (3, "c@x")})})
    with pytest.raises(DirtyRowError) as raised:
        sink.write(batch)
    assert raised.value.key == (2,) and "refused" in raised.value.reason
    dirty: list[QuarantinedRow] = []
    sink.write(batch, on_dirty=dirty.append)
    assert [row.key for row in dirty] == [(2,)]
    assert sorted(d["_id"] for d in docs(mongo_client, target)) == [1, 3]  # the row after it was written


def test_prepare_keeps_truncates_drops_or_refuses_an_existing_collection(
        sink: MongoDBSink, mongo_db: str, mongo_client: Client) -> None:
    target = TableId(mongo_db, "items")
    sink.prepare(ITEMS, target)
    sink.load_chunk(ITEMS, target, whole(ITEMS), [item(1), item(2)])
    sink.prepare(ITEMS, target, if_exists="keep")
    assert len(docs(mongo_client, target)) == 2
    with pytest.raises(ConnectorError, match="already exists"):
        sink.prepare(ITEMS, target, if_exists="fail")
    sink.prepare(ITEMS, target, if_exists="truncate")
    assert docs(mongo_client, target) == []
    sink.load_chunk(ITEMS, target, whole(ITEMS), [item(1)])
    sink.prepare(ITEMS, target, if_exists="drop")
    assert docs(mongo_client, target) == [] and sink.exists(target)


def test_ddl_drops_and_truncates_collections_and_column_changes_need_nothing(
        sink: MongoDBSink, mongo_db: str, mongo_client: Client) -> None:
    target = TableId(mongo_db, "items")
    sink.prepare(ITEMS, target)
    sink.load_chunk(ITEMS, target, whole(ITEMS), [item(1), item(2)])

    def ddl(statement: str) -> None:
        sink.apply_ddl(ChangeEvent(DDL, ITEMS.table, ITEMS, None, None, 0.0, None, ddl=statement), target)

    ddl("ALTER TABLE items ADD COLUMN note TEXT")
    assert len(docs(mongo_client, target)) == 2
    ddl("TRUNCATE TABLE items")
    assert docs(mongo_client, target) == [] and sink.exists(target)
    ddl("DROP TABLE items")
    assert not sink.exists(target)
    with pytest.raises(ValueError, match="not a DDL event"):
        sink.apply_ddl(ChangeEvent("insert", ITEMS.table, ITEMS, None, item(1), 0.0, None), target)


def test_an_unreachable_server_is_a_transient_failure(mongo: MongoTarget) -> None:
    config = dataclasses.replace(mongo_config(mongo), port=free_port(), connect_timeout=0.5)
    sink = MongoDBSink(config)
    target = TableId("dts_unreachable", "items")
    with pytest.raises(ConnectionFailed, match="cannot reach MongoDB") as raised:
        sink.write(Batch({ITEMS.table: TableBatch(ITEMS, target, upserts={(1,): item(1)})}))
    assert is_transient(raised.value)  # the task retries with backoff and resumes from its checkpoint
    sink.close()
