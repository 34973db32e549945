"""Mapping rules end to end on real servers: every rule on snapshot rows and on streamed changes.

Expected target rows are computed here independently (hashlib, str methods) from the source rows,
and compared with what the target holds after the snapshot and again after the stream.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.spec import TaskSpec
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql
from tests.connectors.pipeline.conftest import Recorder, Run, Target, binlog_head, spec_json

ORDERS = ("CREATE TABLE orders (id INT PRIMARY KEY, status VARCHAR(16), amount DECIMAL(10,2), email VARCHAR(64), "
          "card VARCHAR(32), name VARCHAR(32), code VARCHAR(32), note VARCHAR(64), secret VARCHAR(32), "
          "phone VARCHAR(32), doc JSON)")
SOURCE_COLUMNS = "id, status, amount, email, card, name, code, note, secret, phone, doc"
TARGET_COLUMNS = ["id", "status", "amount", "email", "card", "name", "code", "remark", "secret", "phone", "doc",
                  "doc_ab", "doc_x", "doc_y", "src_db", "src_tbl", "ct", "op", "batch", "is_deleted", "deleted_at"]
DOC, CT, IS_DELETED, DELETED_AT = (TARGET_COLUMNS.index(name) for name in ("doc", "ct", "is_deleted", "deleted_at"))
SALT = "pepper"


def rules() -> dict[str, Any]:
    return {
        "columns": {"rename": {"note": "remark"}},
        "filter": "status != 'deleted' and amount > 0",
        "transforms": [
            {"column": "email", "type": "hash", "salt": SALT},
            {"column": "card", "type": "keep", "last": 4, "mask": "*"},
            {"column": "name", "type": "upper"},
            {"column": "code", "type": "lower"},
            {"column": "code", "type": "regex_replace", "pattern": "[0-9]", "replacement": "#"},
            {"column": "secret", "type": "constant", "value": "***"},
            {"column": "note", "type": "trim"},
            {"column": "note", "type": "replace", "old": "foo", "new": "bar"},
            {"column": "phone", "type": "null"},
            {"column": "doc", "type": "json_extract", "path": "$.a.b", "into": "doc_ab"},
            {"column": "doc", "type": "json_flatten", "keys": ["x", "y"], "prefix": "doc_"},
        ],
        "computed": [{"name": "src_db", "value": "source_database"}, {"name": "src_tbl", "value": "source_table"},
                     {"name": "ct", "value": "commit_time"}, {"name": "op", "value": "op"},
                     {"name": "batch", "value": {"constant": "b1"}}],
        "logical_delete": {"flag_column": "is_deleted", "time_column": "deleted_at"},
    }


def expected(database: str, row: tuple[Any, ...], op: str, deleted: bool = False) -> tuple[Any, ...]:
    """The target row (without ct and deleted_at) for a source row, computed without the transform code."""
    key, status, amount, email, card, name, code, note, _secret, _phone, doc = row  # secret: constant; phone: null
    parsed = json.loads(doc) if doc is not None else None

    def flat(value: Any) -> Any:
        return value if value is None or isinstance(value, str) else json.dumps(value)

    masked = card if card is None or len(card) <= 4 else "*" * (len(card) - 4) + card[-4:]
    return (key, status, amount, hashlib.sha256((SALT + email).encode()).hexdigest() if email else None, masked,
            name.upper() if name else None, re.sub("[0-9]", "#", code.lower()) if code else None,
            note.strip().replace("foo", "bar") if note is not None else None, "***", None, doc,
            flat((parsed or {}).get("a", {}).get("b")), flat((parsed or {}).get("x")), flat((parsed or {}).get("y")),
            database, "orders", op, "b1", deleted)


def target_rows(target: Target) -> dict[int, tuple[Any, ...]]:
    rows = target.rows("orders", ", ".join(target.quote(c) for c in TARGET_COLUMNS))
    out = {}
    for row in rows:
        values = list(row)
        values[DOC] = json.dumps(json.loads(values[DOC])) if isinstance(values[DOC], str) else (
            json.dumps(values[DOC]) if values[DOC] is not None else None)
        values[IS_DELETED] = bool(values[IS_DELETED])
        out[values[0]] = tuple(values)
    return out


def comparable(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Without ct and deleted_at, which are times checked separately."""
    return row[:CT] + row[CT + 1:DELETED_AT]


def normal_json(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row[:10], json.dumps(json.loads(row[10])) if row[10] is not None else None)


def test_every_rule_on_snapshot_and_stream(src: Sql, target: Target, mariadb: MariaDBServer,
                                           runs: Callable[..., Run]) -> None:
    src(ORDERS)
    src("INSERT INTO orders VALUES "
        "(1, 'paid', 10.50, 'a@x.io', '4111111111111111', 'ann', 'AB12', '  foo note ', 's1', '555', "
        "'{\"a\": {\"b\": 7}, \"x\": \"ex\", \"y\": [1, 2]}'), "
        "(2, 'deleted', 5.00, 'b@x.io', '4222', 'bob', 'C3', 'n', 's2', '556', NULL), "
        "(3, 'paid', 0.00, 'c@x.io', '4333333', 'cy', 'D4', 'n', 's3', '557', '{}'), "
        "(4, 'new', 1.00, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{\"a\": {\"b\": \"t\"}}')")
    data = spec_json(mariadb, src.database, target, ["orders"], "full+incremental")
    data["mapping"] = {"tables": {f"{src.database}.orders": rules()}}
    run = runs(TaskSpec.from_json(data), MemoryCheckpointStore(), Recorder())
    run.wait_streaming()
    run.wait_caught_up(binlog_head(mariadb))

    assert target.columns("orders") == TARGET_COLUMNS
    source = {row[0]: normal_json(tuple(row)) for row in src(f"SELECT {SOURCE_COLUMNS} FROM orders")}
    got = target_rows(target)
    assert sorted(got) == [1, 4], "rows 2 (deleted) and 3 (amount 0) are left out by the filter"
    for key in (1, 4):
        assert comparable(got[key]) == expected(src.database, source[key], "snapshot")
        assert got[key][CT] is None and got[key][DELETED_AT] is None  # no commit time for snapshot rows

    started = time.time()
    src("INSERT INTO orders VALUES (5, 'paid', 3.00, 'e@x.io', '4555555555', 'eve', 'E55', ' foofoo ', 's5', "
        "'558', '{\"x\": {\"k\": 1}}')")
    src("INSERT INTO orders VALUES (6, 'paid', 0.00, 'f@x.io', NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
    src("UPDATE orders SET name = 'annie', card = '5500000000000004' WHERE id = 1")
    src("DELETE FROM orders WHERE id = 4")
    run.wait_caught_up(binlog_head(mariadb))

    source = {row[0]: normal_json(tuple(row)) for row in src(f"SELECT {SOURCE_COLUMNS} FROM orders")}
    got = target_rows(target)
    assert sorted(got) == [1, 4, 5], "6 is filtered out; 4 is deleted logically, so it stays"
    assert comparable(got[5]) == expected(src.database, source[5], "insert")
    assert comparable(got[1]) == expected(src.database, source[1], "update")
    old_four = (4, "new", Decimal("1.00"), None, None, None, None, None, None, None,
                json.dumps({"a": {"b": "t"}}))
    assert comparable(got[4]) == expected(src.database, old_four, "delete", deleted=True)
    for key in (1, 4, 5):
        commit_time = got[key][CT]
        assert isinstance(commit_time, datetime.datetime)
        seconds = commit_time.replace(tzinfo=datetime.UTC).timestamp()
        assert started - 5 <= seconds <= time.time() + 5, f"row {key}: commit time {commit_time}"
    assert got[4][DELETED_AT] is not None and got[1][DELETED_AT] is None and got[5][DELETED_AT] is None
    run.finish()


def test_drop_ops_keep_deleted_rows_and_the_target_shape(src: Sql, target: Target, mariadb: MariaDBServer,
                                                         runs: Callable[..., Run]) -> None:
    src("CREATE TABLE events (id INT PRIMARY KEY, v VARCHAR(16))")
    src("INSERT INTO events VALUES (1, 'a'), (2, 'b')")
    data = spec_json(mariadb, src.database, target, ["events"], "full+incremental", ddl_policy="apply")
    data["mapping"] = {"tables": {f"{src.database}.events": {"drop_ops": ["delete", "ddl"]}}}
    observer = Recorder()
    run = runs(TaskSpec.from_json(data), MemoryCheckpointStore(), observer)
    run.wait_streaming()
    src("DELETE FROM events WHERE id = 1")
    src("UPDATE events SET v = 'b2' WHERE id = 2")
    src("ALTER TABLE events ADD COLUMN z INT")
    src("INSERT INTO events VALUES (3, 'c', 9)")
    run.wait_caught_up(binlog_head(mariadb))
    assert target.columns("events") == ["id", "v"], "the dropped DDL did not reach the target"
    assert target.rows("events") == [(1, "a"), (2, "b2"), (3, "c")], "the dropped delete left row 1"
    assert any("dropped DDL" in message for _, message in observer.logs)
    run.finish()


def test_an_update_crossing_the_filter_deletes_or_inserts_at_the_target(src: Sql, target: Target,
                                                                        mariadb: MariaDBServer,
                                                                        runs: Callable[..., Run]) -> None:
    src("CREATE TABLE tickets (id INT PRIMARY KEY, status VARCHAR(16), n INT)")
    src("INSERT INTO tickets VALUES (1, 'open', 1), (2, 'closed', 2), (3, 'open', 3)")
    data = spec_json(mariadb, src.database, target, ["tickets"], "full+incremental")
    data["mapping"] = {"tables": {f"{src.database}.tickets": {"filter": "status in ('open', 'waiting')"}}}
    run = runs(TaskSpec.from_json(data), MemoryCheckpointStore(), Recorder())
    run.wait_streaming()
    run.wait_caught_up(binlog_head(mariadb))
    assert target.rows("tickets") == [(1, "open", 1), (3, "open", 3)]

    src("UPDATE tickets SET status = 'closed' WHERE id = 1")  # out of the filter: deleted at the target
    src("UPDATE tickets SET status = 'waiting', n = 20 WHERE id = 2")  # into it: inserted
    src("UPDATE tickets SET n = 30 WHERE id = 3")  # within it: updated
    run.wait_caught_up(binlog_head(mariadb))
    assert target.rows("tickets") == [(2, "waiting", 20), (3, "open", 30)]

    src("UPDATE tickets SET status = 'open', n = 10 WHERE id = 1")  # back in, with its latest values
    src("UPDATE tickets SET status = 'closed', n = 21 WHERE id = 2")  # back out
    src("UPDATE tickets SET status = 'closed' WHERE id = 3")  # out and in within one transaction
    src("BEGIN")
    src("UPDATE tickets SET status = 'open', n = 31 WHERE id = 3")
    src("INSERT INTO tickets VALUES (4, 'closed', 4)")
    src("COMMIT")
    run.wait_caught_up(binlog_head(mariadb))
    assert target.rows("tickets") == [(1, "open", 10), (3, "open", 31)]
    run.finish()


def test_a_row_a_rule_cannot_process_is_quarantined_on_both_paths(src: Sql, target: Target,
                                                                  mariadb: MariaDBServer,
                                                                  runs: Callable[..., Run]) -> None:
    src("CREATE TABLE docs (id INT PRIMARY KEY, body TEXT)")
    src("INSERT INTO docs VALUES (1, '{\"k\": \"one\"}'), (2, 'not json')")
    data = spec_json(mariadb, src.database, target, ["docs"], "full+incremental",
                     dirty_data_policy="quarantine", max_quarantine=10)
    data["mapping"] = {"tables": {f"{src.database}.docs": {
        "transforms": [{"column": "body", "type": "json_extract", "path": "$.k", "into": "k"}]}}}
    observer = Recorder()
    run = runs(TaskSpec.from_json(data), MemoryCheckpointStore(), observer)
    run.wait_streaming()
    src("INSERT INTO docs VALUES (3, '{\"k\": 3}'), (4, '{oops')")
    run.wait_caught_up(binlog_head(mariadb))
    assert target.rows("docs", "id, k") == [(1, "one"), (3, "3")]
    bad = sorted((row["key"], row["column"], "not valid JSON" in row["error"], row["position"] is not None)
                 for row in observer.quarantine)
    assert bad == [((2,), "body", True, True), ((4,), "body", True, True)]
    assert {row["row"]["body"] for row in observer.quarantine} == {"not json", "{oops"}
    run.finish()


def test_applied_ddl_keeps_the_mapped_shape_of_the_target(src: Sql, target: Target, mariadb: MariaDBServer,
                                                          runs: Callable[..., Run]) -> None:
    src("CREATE TABLE people (id INT PRIMARY KEY, full_name VARCHAR(32), secret VARCHAR(16))")
    src("INSERT INTO people VALUES (1, 'Ann', 's1')")
    data = spec_json(mariadb, src.database, target, ["people"], "full+incremental", ddl_policy="apply")
    data["mapping"] = {"tables": {f"{src.database}.people": {
        "columns": {"exclude": ["secret"], "rename": {"full_name": "name"}},
        "transforms": [{"column": "full_name", "type": "lower"}],
        "computed": [{"name": "tier", "value": {"constant": "gold"}}]}}}
    run = runs(TaskSpec.from_json(data), MemoryCheckpointStore(), Recorder())
    run.wait_streaming()
    src("ALTER TABLE people ADD COLUMN age INT, ADD COLUMN secret2 VARCHAR(8)")
    src("INSERT INTO people VALUES (2, 'BOB', 's2', 40, 'x')")
    src("ALTER TABLE people DROP COLUMN secret")
    src("UPDATE people SET age = 30 WHERE id = 1")
    run.wait_caught_up(binlog_head(mariadb))
    # Where an added column lands (at the end, or after its source neighbour) is the sink's choice.
    assert sorted(target.columns("people")) == ["age", "id", "name", "secret2", "tier"]
    assert target.rows("people", "id, name, tier, age") == [(1, "ann", "gold", 30), (2, "bob", "gold", 40)]
    run.finish()
