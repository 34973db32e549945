"""Pairs end to end through TaskRunner: MySQL -> MongoDB, MongoDB -> MongoDB, MongoDB -> PostgreSQL,
MySQL -> Redis Streams, PostgreSQL -> Redis Streams.

Each full+incremental run has source writes during the snapshot and ends with target = source.
MongoDB runs on nx-27017 unless DTS_TEST_MONGO_URI names a real server; MongoDB as a *source* of a
full+incremental task needs a replica set and is skipped, with the reason, on nx-27017.
"""

from __future__ import annotations

import importlib.util
import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pymongo
import pytest
import redis
from bson import ObjectId

from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.spec import TaskSpec
from connectors.types import TableId
from dts.localservers import MariaDBServer, PostgresServer, RedisServer
from tests.connectors.mongodb.conftest import NEEDS_REPLICA_SET, mongo_config, mongo_db  # noqa: F401
from tests.connectors.mysql.conftest import Sql
from tests.connectors.pipeline import test_pg_source_pairs as pg_pairs
from tests.connectors.pipeline.conftest import (
    Recorder,
    Run,
    Target,
    Writer,
    binlog_head,
    fill,
    run_to_end,
    source_rows,
)
from tests.connectors.pipeline.test_pg_source_pairs import pg_source_db, pg_spec  # noqa: F401 (fixtures)
from tests.servers import MongoTarget

Client = pymongo.MongoClient[dict[str, Any]]
_tasks = itertools.count(1)


def load_consumer() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "docs" / "redis_streams_consumer.py"
    spec = importlib.util.spec_from_file_location("redis_streams_consumer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


consumer = load_consumer()


class MongoDocuments(Target):
    """A MongoDB target database: tables are collections of the same name."""

    engine = "mongodb"

    def __init__(self, mongo: MongoTarget, database: str, client: Client) -> None:
        self.database = database
        self.client = client
        self.config_json = mongo_config(mongo).to_dict(with_password=True)

    def table(self, name: str) -> TableId:
        return TableId(self.database, name)

    def documents(self, name: str) -> list[dict[str, Any]]:
        return list(self.client[self.database][name].find({}))

    def rows(self, name: str, columns: str = "id, v, n", order: str = "id") -> list[tuple[Any, ...]]:
        names = [c.strip() for c in columns.split(",")]
        keys = [c.strip() for c in order.split(",")]
        found = [tuple(doc.get(c) for c in names) for doc in self.documents(name)]
        return sorted(found, key=lambda row: tuple(row[names.index(k)] for k in keys))


class RedisStreams(Target):
    """A Redis target: one stream per table, rebuilt into rows by the example consumer."""

    engine = "redis"

    def __init__(self, server: RedisServer, database: str) -> None:
        self.database = database
        self.task = f"pairs{next(_tasks)}"
        self.client = redis.Redis(host=server.host, port=server.port, decode_responses=True)
        self.config_json = {"engine": "redis", "host": server.host, "port": server.port,
                            "options": {"task_name": self.task}}

    def table(self, name: str) -> TableId:
        return TableId(self.database, name)

    def stream(self, name: str) -> str:
        return f"dts:{self.task}:{self.database}.{name}"

    def envelopes(self, name: str) -> list[dict[str, Any]]:
        entries: Any = self.client.xrange(self.stream(name))
        return [consumer.json.loads(fields["event"]) for _, fields in entries]

    def rebuild(self, name: str, group: str) -> Any:
        table = consumer.TableRebuilder()
        consumer.consume(self.client, self.stream(name), table.apply, group=group, stop_when_idle=True, block_ms=100)
        return table

    def rows(self, name: str, columns: str = "id, v, n", order: str = "id") -> list[tuple[Any, ...]]:
        names = [c.strip() for c in columns.split(",")]
        table = self.rebuild(name, f"check{time.monotonic_ns()}")
        found = [tuple(row[c] for c in names) for row in table.rows.values()]
        return sorted(found, key=lambda row: tuple(row[names.index(k.strip())] for k in order.split(",")))


@pytest.fixture
def mongo_client(mongo: MongoTarget) -> Iterator[Client]:
    client = mongo.client()
    yield client
    client.close()


@pytest.fixture
def mongo_target(mongo: MongoTarget, mongo_db: str, mongo_client: Client) -> MongoDocuments:  # noqa: F811
    return MongoDocuments(mongo, mongo_db, mongo_client)


@pytest.fixture
def redis_target(redis_server: RedisServer, mysql_db: str) -> Iterator[RedisStreams]:
    target = RedisStreams(redis_server, mysql_db)
    yield target
    for key in target.client.scan_iter(f"dts:{target.task}:*"):
        target.client.delete(key)
    target.client.close()


def assert_equal(sql: Sql, target: Target, table: str, columns: str = "id, v, n", order: str = "id") -> None:
    expected = source_rows(sql, table, columns, order)
    actual = target.rows(table, columns, order)
    missing = [row for row in expected if row not in actual]
    extra = [row for row in actual if row not in expected]
    assert actual == expected, (f"{table}: {len(expected)} rows at the source, {len(actual)} at the target; "
                                f"missing {missing[:5]}, extra {extra[:5]}")


def run_with_writes_during_snapshot(src: Sql, target: Target, make_spec: Any, runs: Callable[..., Run],
                                    mariadb: MariaDBServer, **options: Any) -> Run:
    """items: 3000 rows, random writes from before the snapshot until after the stream began; caught up."""
    fill(src, "items", 3000)
    writer = Writer(mariadb, src.database, "items", keys=4000, seed=7)
    writer.start()
    time.sleep(0.2)
    recorder = Recorder()
    run = runs(make_spec(target, ["items"], "full+incremental", chunk_size=250, parallelism=2, **options),
               observer=recorder)
    run.wait_streaming()
    time.sleep(1.0)
    writer.finish()
    assert writer.between(recorder.phase_times["snapshot"], recorder.phase_times["stream"]) > 0, \
        "no source write happened during the snapshot"
    run.wait_caught_up(binlog_head(mariadb))
    return run


# MySQL -> MongoDB ---------------------------------------------------------------------------------------

def test_mysql_to_mongodb_full_incremental_with_writes_during_the_snapshot(
        src: Sql, mongo_target: MongoDocuments, make_spec: Any, runs: Callable[..., Run],
        mariadb: MariaDBServer) -> None:
    run = run_with_writes_during_snapshot(src, mongo_target, make_spec, runs, mariadb)
    assert_equal(src, mongo_target, "items")
    documents = mongo_target.documents("items")
    assert all(doc["_id"] == doc["id"] for doc in documents)  # the key is the _id: no duplicates possible
    assert run.finish() == "stopped"


def test_mysql_to_mongodb_composite_keys_and_key_changes(
        src: Sql, mongo_target: MongoDocuments, make_spec: Any, runs: Callable[..., Run],
        mariadb: MariaDBServer) -> None:
    src("CREATE TABLE pairs (a INT, b INT, v VARCHAR(20), PRIMARY KEY (a, b))")
    src("INSERT INTO pairs VALUES " + ", ".join(f"({a}, {b}, 'v{a}.{b}')" for a in range(5) for b in range(5)))
    run = runs(make_spec(mongo_target, ["pairs"], "full+incremental", chunk_size=7))
    run.wait_streaming()
    src("UPDATE pairs SET v = 'changed' WHERE a = 1")
    src("DELETE FROM pairs WHERE a = 2 AND b > 2")
    src("UPDATE pairs SET a = 9 WHERE a = 3 AND b = 0")  # a key change: delete + insert
    src("INSERT INTO pairs VALUES (7, 7, 'new')")
    run.wait_caught_up(binlog_head(mariadb))
    assert_equal(src, mongo_target, "pairs", "a, b, v", "a, b")
    ids = sorted((d["_id"]["a"], d["_id"]["b"]) for d in mongo_target.documents("pairs"))
    assert ids == [tuple(row) for row in src("SELECT a, b FROM pairs ORDER BY a, b")]
    assert run.finish() == "stopped"


# MongoDB -> MongoDB -------------------------------------------------------------------------------------

def mongo_spec(mongo: MongoTarget, database: str, mode: str, tables: list[str], **options: Any) -> TaskSpec:
    config = mongo_config(mongo).to_dict(with_password=True)
    return TaskSpec.from_json({
        "name": "mongo-pair", "source": {**config, "database": database}, "target": config, "mode": mode,
        "tables": [{"source": f"{database}.{name}", "target": f"{database}.{name}_copy"} for name in tables],
        "options": {"chunk_size": 40, "heartbeat_seconds": 0.3, "flush_interval": 0.2, **options}})


def seed(client: Client, database: str, count: int) -> None:
    client[database]["docs"].insert_many([
        {"_id": ObjectId(), "n": i, "tags": ["x", i], "sub": {"k": f"v{i}", "none": None}} for i in range(count)])


def test_mongodb_to_mongodb_full_copies_documents_unchanged(mongo: MongoTarget, mongo_db: str,  # noqa: F811
                                                            mongo_client: Client) -> None:
    seed(mongo_client, mongo_db, 300)
    outcome, _ = run_to_end(mongo_spec(mongo, mongo_db, "full", ["docs"]))
    assert outcome == "completed"
    source = list(mongo_client[mongo_db]["docs"].find().sort("_id", 1))
    assert list(mongo_client[mongo_db]["docs_copy"].find().sort("_id", 1)) == source


def test_mongodb_to_mongodb_full_incremental_with_writes_during_the_snapshot(
        mongo: MongoTarget, mongo_db: str, mongo_client: Client, runs: Callable[..., Run]) -> None:  # noqa: F811
    if not mongo.is_real_mongodb:
        pytest.skip(NEEDS_REPLICA_SET)
    seed(mongo_client, mongo_db, 2000)
    collection = mongo_client[mongo_db]["docs"]
    ids = [doc["_id"] for doc in collection.find({}, {"_id": 1})]
    halt = threading.Event()

    def write() -> None:
        rng = random.Random(3)
        while not halt.is_set():
            choice = rng.random()
            if choice < 0.4:
                collection.insert_one({"n": rng.randrange(10_000), "new": True})
            elif choice < 0.8:
                collection.update_one({"_id": rng.choice(ids)}, {"$set": {"n": rng.randrange(10_000)}})
            else:
                collection.delete_one({"_id": rng.choice(ids)})

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    run = runs(mongo_spec(mongo, mongo_db, "full+incremental", ["docs"], chunk_size=200))
    run.wait_streaming()
    time.sleep(1.0)
    halt.set()
    writer.join(30)
    time.sleep(0.5)
    # Caught up: the copy equals the source once the stream has applied the last change.
    source = list(collection.find().sort("_id", 1))
    run.wait(lambda: list(mongo_client[mongo_db]["docs_copy"].find().sort("_id", 1)) == source,
             "the copy to equal the source")
    assert run.finish() == "stopped"


# MySQL -> Redis Streams ---------------------------------------------------------------------------------

def test_mysql_to_redis_streams_rebuilds_the_table_from_snapshot_and_stream(
        src: Sql, redis_target: RedisStreams, make_spec: Any, runs: Callable[..., Run],
        mariadb: MariaDBServer) -> None:
    run = run_with_writes_during_snapshot(src, redis_target, make_spec, runs, mariadb)
    assert_equal(src, redis_target, "items")
    envelopes = redis_target.envelopes("items")
    ops = {e["op"] for e in envelopes}
    assert "snapshot" in ops and "upsert" in ops and "delete" in ops
    first_change = next(i for i, e in enumerate(envelopes) if e["op"] != "snapshot")
    assert all(e["op"] != "snapshot" for e in envelopes[first_change:])  # the snapshot comes first
    assert all(e["database"] == src.database and e["table"] == "items" for e in envelopes)
    assert run.finish() == "stopped"


def test_mysql_to_redis_replay_after_a_crash_publishes_again_and_the_rebuild_is_unchanged(
        src: Sql, redis_target: RedisStreams, make_spec: Any, mariadb: MariaDBServer) -> None:
    fill(src, "items", 50)
    spec = make_spec(redis_target, ["items"], "full+incremental")
    store = MemoryCheckpointStore()
    first = Run(spec, store).start()
    first.wait_streaming()
    src("UPDATE items SET v = CONCAT('x', id) WHERE id <= 10")
    src("DELETE FROM items WHERE id > 45")
    first.wait_caught_up(binlog_head(mariadb))
    assert first.finish() == "stopped"
    published = [e for e in redis_target.envelopes("items") if e["op"] != "snapshot"]
    assert len(published) == 15

    # A crash after the writes, before their checkpoint: the task resumes from the position before them.
    state = store.load()
    assert state is not None
    state["position"] = state["start_position"]
    store.save(state)
    second = Run(spec, store).start()
    second.wait_caught_up(binlog_head(mariadb))
    assert second.finish() == "stopped"
    changes = [e for e in redis_target.envelopes("items") if e["op"] != "snapshot"]

    def content(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((e["op"], e["key"]["id"], str(e["after"])) for e in events)

    assert content(changes[len(published):]) == content(published)  # the same changes, published again
    assert_equal(src, redis_target, "items")


def test_mongodb_to_postgresql_columns_layout_puts_top_level_fields_in_columns(
        mongo: MongoTarget, mongo_db: str, mongo_client: Client, postgres: PostgresServer,  # noqa: F811
        pg_db: str) -> None:
    documents = [{"_id": ObjectId(), "name": f"n{i}", "n": i, "tags": ["t", i]} for i in range(1, 8)]
    documents.append({"_id": ObjectId(), "name": "odd", "n": "seven", "extra": True})
    mongo_client[mongo_db]["docs"].insert_many(documents)
    source = {**mongo_config(mongo, layout="columns", sample_size=7).to_dict(with_password=True),
              "database": mongo_db}
    target = {"engine": "postgresql", "host": postgres.host, "port": postgres.port, "user": postgres.user,
              "password": postgres.password, "database": pg_db}
    spec = TaskSpec.from_json({"name": "mongo-pg", "source": source, "target": target, "mode": "full",
                               "tables": [{"source": f"{mongo_db}.docs", "target": "mongo.docs"}],
                               "options": {"chunk_size": 3}})
    outcome, _ = run_to_end(spec)
    assert outcome == "completed"
    conn = postgres.connect(pg_db)
    try:
        types: dict[str, str] = dict(conn.execute(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'mongo.docs'::regclass AND attnum > 0 AND NOT attisdropped").fetchall())
        rows = conn.execute('SELECT _id, name, n, tags, _rest FROM mongo.docs ORDER BY _id').fetchall()
    finally:
        conn.close()
    assert types["n"] == "integer" and types["name"] == "text" and types["_rest"] in ("json", "jsonb")
    expected = []
    for doc in sorted(documents, key=lambda d: str(d["_id"])):
        number = doc["n"] if isinstance(doc["n"], int) else None
        rest = {key: value for key, value in doc.items() if key not in ("_id", "name", "n", "tags")}
        if number is None:
            rest["n"] = doc["n"]
        expected.append((str(doc["_id"]), doc["name"], number, doc.get("tags"), rest))
    assert [(r[0].strip(), r[1], r[2], r[3], r[4]) for r in rows] == expected


# PostgreSQL -> Redis Streams ----------------------------------------------------------------------------

def test_postgresql_to_redis_streams_rebuilds_the_table_from_snapshot_and_stream(
        pg_source_db: Any, pg_spec: Callable[..., TaskSpec], postgres: PostgresServer,  # noqa: F811
        pg_db: str, redis_server: RedisServer, runs: Callable[..., Any]) -> None:
    target = RedisStreams(redis_server, "public")
    try:
        pg_pairs.fill(pg_source_db, "t", 3000)
        writer = pg_pairs.PgWriter(postgres, pg_db, "t", keys=4000)
        writer.start()
        recorder = Recorder()
        run = runs(pg_spec(target, ["t"], "full+incremental", chunk_size=500, parallelism=2), observer=recorder)
        try:
            run.wait(lambda: "stream" in recorder.phases, "the stream phase", 120)
            snapshot_writes = [t for t in writer.times if t <= recorder.phase_times["stream"]]
            time.sleep(1.0)
        finally:
            writer.finish()
        assert snapshot_writes, "no source write happened during the snapshot"
        pg_pairs.wait_caught_up(run, pg_source_db)
        expected = [tuple(r) for r in pg_source_db("SELECT id, v, n FROM public.t ORDER BY id")]
        assert target.rows("t") == expected
        ops = {e["op"] for e in target.envelopes("t")}
        assert {"snapshot", "upsert", "delete"} <= ops
        assert run.finish() == "stopped"
    finally:
        for key in target.client.scan_iter(f"dts:{target.task}:*"):
            target.client.delete(key)
        target.client.close()
