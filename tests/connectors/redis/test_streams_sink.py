"""The Redis Streams sink against a real redis-server: envelopes, stream naming, MAXLEN, replays,
and the example consumer (docs/redis_streams_consumer.py) rebuilding a table."""

from __future__ import annotations

import importlib.util
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis

from connectors.base import Batch, Chunk, TableBatch
from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.events import DDL, ChangeEvent
from connectors.quarantine import jsonable
from connectors.redis.envelope import decode
from connectors.redis.sink import RedisStreamsSink
from connectors.registry import sink_for
from connectors.types import TableId
from dts.localservers import RedisServer
from tests.connectors.sinks.data import ALL_ROWS, ALL_TYPES, ITEMS, ODD, item

_tasks = itertools.count(1)
ENVELOPE_KEYS = {"op", "database", "table", "key", "before", "after", "commit_time", "position", "schema_version"}
TARGET = TableId("shop", "items")


def load_consumer() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "docs" / "redis_streams_consumer.py"
    spec = importlib.util.spec_from_file_location("redis_streams_consumer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


consumer = load_consumer()


def config(server: RedisServer, **options: Any) -> ConnectionConfig:
    options.setdefault("task_name", f"t{next(_tasks)}")
    return ConnectionConfig(engine="redis", host=server.host, port=server.port, options=options)


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    conn = redis.Redis(host=redis_server.host, port=redis_server.port, decode_responses=True)
    yield conn
    conn.close()


@pytest.fixture
def sink(redis_server: RedisServer) -> Iterator[RedisStreamsSink]:
    opened = RedisStreamsSink(config(redis_server))
    yield opened
    opened.close()


def envelopes(client: redis.Redis, stream: str) -> list[dict[str, Any]]:
    entries: Any = client.xrange(stream)
    return [decode(fields["event"]) for _, fields in entries]


def test_registry_gives_the_streams_sink(redis_server: RedisServer) -> None:
    assert isinstance(sink_for(config(redis_server)), RedisStreamsSink)


@pytest.mark.parametrize(("options", "field"), [
    ({"stream_mode": "per_row"}, "stream_mode"), ({"maxlen": -1}, "maxlen"), ({"maxlen": "10"}, "maxlen"),
    ({"task_name": ""}, "task_name"), ({"task_name": "a:b"}, "task_name"), ({"stream_prefix": ""}, "stream_prefix")])
def test_it_rejects_bad_options_naming_the_option(redis_server: RedisServer, options: dict[str, Any],
                                                  field: str) -> None:
    with pytest.raises(ConnectorError) as raised:
        RedisStreamsSink(config(redis_server, **options))
    assert field in str(raised.value) and f"options.{field}" in raised.value.hint


def test_stream_names_per_table_and_per_task(redis_server: RedisServer) -> None:
    per_table = RedisStreamsSink(config(redis_server, task_name="orders"))
    per_task = RedisStreamsSink(config(redis_server, task_name="orders", stream_mode="per_task", stream_prefix="cdc"))
    assert per_table.stream_name(TARGET) == "dts:orders:shop.items"
    assert per_task.stream_name(TARGET) == "cdc:orders"


def test_snapshot_rows_are_published_with_every_value_json_safe(sink: RedisStreamsSink,
                                                                client: redis.Redis) -> None:
    target = TableId("shop", "all_types")
    sink.prepare(ALL_TYPES, target)
    chunk = Chunk(ALL_TYPES.table, 3, None, None)
    assert sink.load_chunk(ALL_TYPES, target, chunk, iter(ALL_ROWS)) == len(ALL_ROWS)
    published = envelopes(client, sink.stream_name(target))
    assert [e["op"] for e in published] == ["snapshot"] * 3
    for envelope, row in zip(published, ALL_ROWS, strict=True):
        assert set(envelope) == ENVELOPE_KEYS
        assert envelope["database"] == "shop" and envelope["table"] == "all_types"
        assert envelope["key"] == {"id": row[0]}
        assert envelope["after"] == {c.name: jsonable(v) for c, v in zip(ALL_TYPES.columns, row, strict=True)}
        assert envelope["position"] == {"chunk": chunk.to_json()}
        assert envelope["schema_version"] == ALL_TYPES.version and envelope["before"] is None
    # Exact values survive: a 65-digit decimal as text, bytes as base64, JSON columns as their text.
    big = published[2]["after"]
    assert big["dec_big"] == "99999999999999999999999999999999999.999999999999999999999999999999"
    assert big["u64"] == 18446744073709551615
    assert json.loads(big["doc"]) == json.loads(str(ALL_ROWS[2][25]))


def test_a_batch_is_published_deletes_first_then_upserts(sink: RedisStreamsSink, client: redis.Redis) -> None:
    batch = Batch({ITEMS.table: TableBatch(ITEMS, TARGET, upserts={(1,): item(1, "one"), (2,): item(2, "two")},
                                           deletes={(3,)})})
    sink.write(batch)
    published = envelopes(client, sink.stream_name(TARGET))
    assert [(e["op"], e["key"]) for e in published] == [("delete", {"id": 3}), ("upsert", {"id": 1}),
                                                        ("upsert", {"id": 2})]
    assert published[0]["before"] == {"id": 3} and published[0]["after"] is None
    assert published[1]["after"] == {"id": 1, "name": "one", "qty": 10, "price": "0.25"}


def test_composite_keys_are_objects_in_key_order(sink: RedisStreamsSink, client: redis.Redis) -> None:
    target = TableId("shop", "odd")
    sink.write(Batch({ODD.table: TableBatch(ODD, target, upserts={("t1", 7): ("t1", 7, "x", 1)})}))
    (envelope,) = envelopes(client, sink.stream_name(target))
    assert list(envelope["key"].items()) == [("tenant", "t1"), ("Id%", 7)]


def test_maxlen_trims_approximately_but_keeps_at_least_maxlen(redis_server: RedisServer,
                                                                client: redis.Redis) -> None:
    trimmed = RedisStreamsSink(config(redis_server, maxlen=100))
    chunk = Chunk(ITEMS.table, 0, None, None)
    trimmed.load_chunk(ITEMS, TARGET, chunk, (item(i) for i in range(1, 2001)))
    length = client.xlen(trimmed.stream_name(TARGET))
    assert 100 <= length < 2000
    last = envelopes(client, trimmed.stream_name(TARGET))[-1]
    assert last["key"] == {"id": 2000}  # trimming drops the oldest entries only
    trimmed.close()


def test_per_task_mode_puts_every_table_in_one_stream(redis_server: RedisServer, client: redis.Redis) -> None:
    shared = RedisStreamsSink(config(redis_server, stream_mode="per_task"))
    other = TableId("shop", "odd")
    shared.write(Batch({ITEMS.table: TableBatch(ITEMS, TARGET, upserts={(1,): item(1)}),
                        ODD.table: TableBatch(ODD, other, deletes={("t", 1)})}))
    published = envelopes(client, shared.stream_name(TARGET))
    assert sorted((e["table"], e["op"]) for e in published) == [("items", "upsert"), ("odd", "delete")]
    shared.close()


def test_prepare_drop_empties_the_stream_and_fail_refuses_it(sink: RedisStreamsSink, client: redis.Redis) -> None:
    sink.write(Batch({ITEMS.table: TableBatch(ITEMS, TARGET, upserts={(1,): item(1)})}))
    stream = sink.stream_name(TARGET)
    with pytest.raises(ConnectorError, match="already exists"):
        sink.prepare(ITEMS, TARGET, if_exists="fail")
    sink.prepare(ITEMS, TARGET, if_exists="keep")
    assert client.xlen(stream) == 1
    sink.prepare(ITEMS, TARGET, if_exists="drop")
    assert client.exists(stream) == 0


def test_ddl_is_published_in_stream_order(sink: RedisStreamsSink, client: redis.Redis) -> None:
    event = ChangeEvent(DDL, ITEMS.table, ITEMS, None, None, 1700000000.0, None,
                        ddl="ALTER TABLE items ADD COLUMN note text")
    sink.apply_ddl(event, TARGET)
    (envelope,) = envelopes(client, sink.stream_name(TARGET))
    assert envelope["op"] == "ddl" and envelope["ddl"] == "ALTER TABLE items ADD COLUMN note text"
    assert envelope["commit_time"] == 1700000000.0


def test_a_replayed_batch_is_published_again_and_the_rebuilt_table_is_unchanged(
        sink: RedisStreamsSink, client: redis.Redis) -> None:
    """At least once: the task replays a batch after a crash before its checkpoint; applying by key
    ends with the same rows."""
    stream = sink.stream_name(TARGET)
    sink.load_chunk(ITEMS, TARGET, Chunk(ITEMS.table, 0, None, None), (item(i) for i in range(1, 6)))
    first = Batch({ITEMS.table: TableBatch(ITEMS, TARGET, upserts={(2,): item(2, "two v2"), (9,): item(9)},
                                           deletes={(4,)})})
    second = Batch({ITEMS.table: TableBatch(ITEMS, TARGET, upserts={(4,): item(4, "four again")},
                                            deletes={(9,)})})
    sink.write(first)
    sink.write(second)
    before_replay = consumer.TableRebuilder()
    consumer.consume(client, stream, before_replay.apply, group="g1", stop_when_idle=True, block_ms=50)
    sink.write(first)  # the replay (crash after the write, before the checkpoint) ...
    sink.write(second)  # ... and the rest of the stream after it
    after_replay = consumer.TableRebuilder()
    consumer.consume(client, stream, after_replay.apply, group="g2", stop_when_idle=True, block_ms=50)
    assert client.xlen(stream) == 5 + 3 + 2 + 3 + 2  # duplicates are in the stream: at least once
    assert after_replay.applied == before_replay.applied + 5
    expected = {1: "item 1", 2: "two v2", 3: "item 3", 4: "four again", 5: "item 5"}
    for rebuilt in (before_replay, after_replay):
        assert {dict(k)["id"]: row["name"] for k, row in rebuilt.rows.items()} == expected


def test_the_example_consumer_acknowledges_and_resumes_with_its_pending_entries(
        sink: RedisStreamsSink, client: redis.Redis) -> None:
    stream = sink.stream_name(TARGET)
    sink.load_chunk(ITEMS, TARGET, Chunk(ITEMS.table, 0, None, None), (item(i) for i in range(1, 4)))
    # A consumer that crashed after reading two entries, before acknowledging them:
    client.xgroup_create(stream, "rebuild", id="0")
    client.xreadgroup("rebuild", "worker-1", {stream: ">"}, count=2)
    assert client.xpending(stream, "rebuild")["pending"] == 2
    table = consumer.TableRebuilder()
    assert consumer.consume(client, stream, table.apply, stop_when_idle=True, block_ms=50) == 3
    assert sorted(dict(k)["id"] for k in table.rows) == [1, 2, 3]
    assert client.xpending(stream, "rebuild")["pending"] == 0


def test_envelopes_carry_the_batch_position_and_commit_time_when_the_pipeline_gives_them(
        sink: RedisStreamsSink, client: redis.Redis) -> None:
    batch = Batch({ITEMS.table: TableBatch(ITEMS, TARGET, upserts={(1,): item(1)}, deletes={(2,)})})
    sink.write(batch)  # without them: null, never invented
    batch.position = {"file": "binlog.000003", "pos": 1234, "gtid": ""}  # type: ignore[attr-defined]
    batch.commit_time = 1700000123.5  # type: ignore[attr-defined]
    sink.write(batch)
    published = envelopes(client, sink.stream_name(TARGET))
    assert [(e["position"], e["commit_time"]) for e in published[:2]] == [(None, None)] * 2
    assert [(e["position"], e["commit_time"]) for e in published[2:]] == [
        ({"file": "binlog.000003", "pos": 1234, "gtid": ""}, 1700000123.5)] * 2
