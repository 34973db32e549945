"""Task policies end to end: zero dates, dirty data, tables without a key, the rate limit."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any

import pytest

from connectors.mysql.errors import ZeroDateError
from connectors.mysql.position import BinlogPosition
from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.pipeline.task import NoPrimaryKey, QuarantineLimitExceeded
from connectors.quarantine import DirtyRowError
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql
from tests.connectors.pipeline.conftest import (
    PgTarget,
    Recorder,
    Run,
    Target,
    assert_same_rows,
    binlog_head,
    fill,
    run_to_end,
)

UTC = datetime.UTC

# -- zero dates ----------------------------------------------------------------------------------------

ZERO_ROW = ("'0000-00-00'", "'0000-00-00 00:00:00'", "'0000-00-00 00:00:00'", "'2024-00-15'")
VALID_ROW = ("'2024-01-02'", "'2024-01-02 03:04:05'", "'2024-01-02 03:04:05'", "'2024-05-06'")
VALID = (datetime.date(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4, 5),
         datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), datetime.date(2024, 5, 6))
# What each policy makes of ZERO_ROW and VALID_ROW at a PostgreSQL target (DATE, DATETIME, TIMESTAMP, DATE).
ZERO_EXPECTED = {
    "null": ((None, None, None, None), VALID),
    "epoch": ((datetime.date(1970, 1, 1), datetime.datetime(1970, 1, 1), datetime.datetime(1970, 1, 1, tzinfo=UTC),
               datetime.date(1970, 1, 1)), VALID),
    "string": (("0000-00-00", "0000-00-00 00:00:00", "0000-00-00 00:00:00", "2024-00-15"),
               ("2024-01-02", "2024-01-02 03:04:05", "2024-01-02 03:04:05", "2024-05-06")),
}


def zero_dates_table(src: Sql) -> None:
    src("SET SESSION sql_mode = '', time_zone = '+00:00'")  # a legacy server that accepts zero dates
    src("CREATE TABLE zd (id INT PRIMARY KEY, d DATE NOT NULL, dt DATETIME, ts TIMESTAMP NULL, pd DATE)")


def insert_dates(src: Sql, key: int, values: tuple[str, ...]) -> None:
    src(f"INSERT INTO zd VALUES ({key}, {', '.join(values)})")


@pytest.mark.parametrize("policy", ["null", "epoch", "string"])
def test_zero_dates_on_snapshot_and_stream(policy: str, src: Sql, pg_target: PgTarget, make_spec: Any,
                                           runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    zero_dates_table(src)
    insert_dates(src, 1, ZERO_ROW)
    insert_dates(src, 2, VALID_ROW)
    run = runs(make_spec(pg_target, ["zd"], "full+incremental", zero_date_policy=policy))
    run.wait_streaming()
    insert_dates(src, 11, ZERO_ROW)
    insert_dates(src, 12, VALID_ROW)
    src("UPDATE zd SET pd = '2024-00-00' WHERE id = 12")  # an update's after-image too
    run.wait_caught_up(binlog_head(mariadb))
    zero, valid = ZERO_EXPECTED[policy]
    updated = (*valid[:3], {"null": None, "epoch": datetime.date(1970, 1, 1), "string": "2024-00-00"}[policy])
    assert pg_target.rows("zd", "id, d, dt, ts, pd") == [(1, *zero), (2, *valid), (11, *zero), (12, *updated)]
    if policy == "string":
        assert set(pg_target.column_types("zd").values()) == {"integer", "character varying(10)",
                                                              "character varying(19)"}
    assert run.finish() == "stopped"


def test_zero_date_policy_fail_on_the_snapshot_names_table_column_and_key(
        src: Sql, pg_target: PgTarget, make_spec: Any) -> None:
    zero_dates_table(src)
    insert_dates(src, 2, VALID_ROW)
    insert_dates(src, 7, ("'2024-01-01'", "'0000-00-00 00:00:00'", "NULL", "NULL"))
    store = MemoryCheckpointStore()
    with pytest.raises(ZeroDateError) as failure:
        run_to_end(make_spec(pg_target, ["zd"], "full", zero_date_policy="fail"), store)
    error = failure.value
    assert (str(error.table), error.column, error.key) == (f"{src.database}.zd", "dt", (7,))
    assert f"{src.database}.zd.dt" in str(error) and "key (7,)" in str(error) and "zero_date_policy" in str(error)
    assert store.state is not None and store.state["snapshot"][f"{src.database}.zd"]["done"] == []
    assert pg_target.count("zd") == 0


def test_zero_date_policy_fail_on_the_stream_names_table_column_and_key(
        src: Sql, pg_target: PgTarget, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    zero_dates_table(src)
    insert_dates(src, 2, VALID_ROW)
    run = runs(make_spec(pg_target, ["zd"], "full+incremental", zero_date_policy="fail"))
    run.wait_streaming()
    before = binlog_head(mariadb)
    insert_dates(src, 11, ("'2024-01-01'", "NULL", "'0000-00-00 00:00:00'", "NULL"))
    error = run.failure()
    assert isinstance(error, ZeroDateError)
    assert (str(error.table), error.column, error.key) == (f"{src.database}.zd", "ts", (11,))
    assert f"{src.database}.zd.ts" in str(error) and "key (11,)" in str(error)
    saved = run.position()
    assert saved is not None and not before < saved  # the checkpoint did not pass the row
    assert pg_target.rows("zd", "id") == [(2,)]


# -- dirty data ----------------------------------------------------------------------------------------

def notes_table(src: Sql, dirty: set[int], keys: range) -> None:
    src("CREATE TABLE IF NOT EXISTS notes (id INT PRIMARY KEY, body TEXT)")
    insert_notes(src, dirty, keys)


def insert_notes(src: Sql, dirty: set[int], keys: range | list[int]) -> None:
    for key in keys:
        src("INSERT INTO notes VALUES (%s, %s)", (key, f"bad\x00byte {key}" if key in dirty else f"note {key}"))


def assert_names_the_row(error: BaseException, database: str, key: int) -> None:
    assert isinstance(error, DirtyRowError)
    text = str(error)
    assert f"table {database}.notes" in text and f"key (id={key})" in text and "column 'body'" in text, text
    assert "NUL" in text and "quarantine" in text  # what is wrong, and the way out


def test_dirty_row_with_policy_fail_stops_the_snapshot(src: Sql, pg_target: PgTarget, make_spec: Any) -> None:
    notes_table(src, {3}, range(1, 6))
    store = MemoryCheckpointStore()
    with pytest.raises(DirtyRowError) as failure:
        run_to_end(make_spec(pg_target, ["notes"], "full", dirty_data_policy="fail"), store)
    assert_names_the_row(failure.value, src.database, 3)
    assert store.state is not None and store.state["snapshot"][f"{src.database}.notes"]["done"] == []
    assert pg_target.count("notes") == 0  # the chunk's transaction committed nothing


def test_dirty_row_with_policy_fail_stops_the_stream_before_its_checkpoint(
        src: Sql, pg_target: PgTarget, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    notes_table(src, set(), range(1, 3))
    spec = make_spec(pg_target, ["notes"], "full+incremental", dirty_data_policy="fail")
    store = MemoryCheckpointStore()
    run = runs(spec, store)
    run.wait_streaming()
    insert_notes(src, set(), [10])
    before_dirty = binlog_head(mariadb)
    insert_notes(src, {11}, [11, 12])
    assert_names_the_row(run.failure(), src.database, 11)
    saved = run.position()
    assert saved is not None and not before_dirty < saved, f"the checkpoint {saved} passed the dirty row"
    assert (11,) not in pg_target.rows("notes", "id")
    # Resuming replays from the checkpoint, so it meets the same row again instead of skipping it.
    again = runs(spec, store)
    assert_names_the_row(again.failure(), src.database, 11)
    assert BinlogPosition.from_json(store.load()["position"]) == saved  # type: ignore[index]


def test_dirty_rows_quarantined_on_snapshot_and_stream_while_the_rest_lands(
        src: Sql, pg_target: PgTarget, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    notes_table(src, {3}, range(1, 6))
    recorder = Recorder()
    run = runs(make_spec(pg_target, ["notes"], "full+incremental", dirty_data_policy="quarantine"),
               observer=recorder)
    run.wait_streaming()
    insert_notes(src, {11}, [10, 11, 12])
    run.wait_caught_up(binlog_head(mariadb))
    assert pg_target.rows("notes", "id") == [(1,), (2,), (4,), (5,), (10,), (12,)]
    assert pg_target.rows("notes", "body") == [(f"note {k}",) for k in (1, 2, 4, 5, 10, 12)]
    quarantined = sorted(recorder.quarantine, key=lambda q: q["key"])
    assert [(str(q["table"]), q["key"], q["column"]) for q in quarantined] == [
        (f"{src.database}.notes", (3,), "body"), (f"{src.database}.notes", (11,), "body")]
    # Kept whole: the NUL splits the text into pieces, as JSON in PostgreSQL metadata cannot hold it.
    assert [q["row"] for q in quarantined] == [{"id": 3, "body": {"$text_nul": ["bad", "byte 3"]}},
                                               {"id": 11, "body": {"$text_nul": ["bad", "byte 11"]}}]
    assert all("NUL" in q["error"] for q in quarantined)
    assert quarantined[0]["position"] is not None and "chunk" in quarantined[0]["position"]  # where it came from
    assert quarantined[1]["position"] is not None  # the stream's position, filled in by the pipeline
    assert run.state()["quarantined"] == 2
    assert run.finish() == "stopped"


def test_quarantined_rows_of_a_full_load_are_counted_in_its_state(src: Sql, pg_target: PgTarget,
                                                                    make_spec: Any) -> None:
    notes_table(src, {2, 4}, range(1, 6))
    store = MemoryCheckpointStore()
    outcome, run = run_to_end(make_spec(pg_target, ["notes"], "full", dirty_data_policy="quarantine",
                                        max_quarantine=2), store)
    assert outcome == "completed" and pg_target.rows("notes", "id") == [(1,), (3,), (5,)]
    assert sorted(q["key"] for q in run.observer.quarantine) == [(2,), (4,)]
    assert store.state is not None and store.state["quarantined"] == 2  # a resume counts on from here


def test_more_dirty_rows_than_max_quarantine_fail_the_task(src: Sql, pg_target: PgTarget, make_spec: Any) -> None:
    notes_table(src, {2}, range(1, 4))
    recorder = Recorder()
    with pytest.raises(QuarantineLimitExceeded, match="max_quarantine=0"):
        run_to_end(make_spec(pg_target, ["notes"], "full", dirty_data_policy="quarantine", max_quarantine=0),
                   observer=recorder)
    assert [q["key"] for q in recorder.quarantine] == [(2,)]  # reported, then over the limit


# -- tables without a key ------------------------------------------------------------------------------

def test_a_table_without_a_primary_key_is_refused_before_any_copy(src: Sql, target: Target, make_spec: Any) -> None:
    fill(src, "good", 10)
    src("CREATE TABLE loose (a INT, b VARCHAR(10), UNIQUE KEY (a))")  # a nullable unique key is no key
    src("INSERT INTO loose VALUES (1, 'x'), (NULL, 'y'), (NULL, 'y')")
    store = MemoryCheckpointStore()
    with pytest.raises(NoPrimaryKey) as failure:
        run_to_end(make_spec(target, ["good", "loose"], "full+incremental"), store)
    text = str(failure.value)
    assert f"{src.database}.loose" in text and "primary key" in text
    assert "fix: add a primary key" in text
    assert not target.exists("good") and not target.exists("loose")  # nothing created, nothing copied
    assert store.state is None


def test_a_not_null_unique_key_is_enough(src: Sql, target: Target, make_spec: Any) -> None:
    src("CREATE TABLE keyed (a INT NOT NULL, b VARCHAR(10), UNIQUE KEY (a))")
    src("INSERT INTO keyed VALUES (1, 'x'), (2, NULL)")
    outcome, _ = run_to_end(make_spec(target, ["keyed"], "full"))
    assert outcome == "completed"
    assert_same_rows(src, target, "keyed", order="a")


# -- rate limit ----------------------------------------------------------------------------------------

def test_rate_limit_slows_a_full_load(src: Sql, pg_target: PgTarget, make_spec: Any) -> None:
    fill(src, "items", 6000)
    began = time.monotonic()
    outcome, _ = run_to_end(make_spec(pg_target, ["items"], "full", rate_limit_rows=2000, chunk_size=1000))
    elapsed = time.monotonic() - began
    assert outcome == "completed" and pg_target.count("items") == 6000
    # 2000 rows/s with one second of burst: the first 2000 rows are free, the other 4000 take 2 s.
    assert elapsed >= 1.9, f"6000 rows at 2000 rows/s took only {elapsed:.2f}s"


def test_a_keyless_table_is_copied_append_only_when_the_task_allows_it(
        src: Sql, target: Target, make_spec: Any, mariadb: Any) -> None:
    src("CREATE TABLE events_log (at INT, message VARCHAR(40))")
    src("INSERT INTO events_log VALUES (1, 'boot'), (2, 'ready'), (2, 'ready')")  # duplicates are real rows
    recorder = Recorder()
    run = Run(make_spec(target, ["events_log"], "full+incremental", allow_no_primary_key=True),
              observer=recorder).start()
    run.wait_streaming()
    src("INSERT INTO events_log VALUES (3, 'job started'), (4, 'job done')")
    src("UPDATE events_log SET message = 'job finished' WHERE at = 4")
    src("DELETE FROM events_log WHERE at = 1")
    run.wait_caught_up(binlog_head(mariadb))
    run.finish()
    rows = sorted(target.rows("events_log", "at, message", order="at, message"))
    # Every inserted row and every new image lands; the deleted row stays, and the skip is logged.
    assert rows == sorted([(1, "boot"), (2, "ready"), (2, "ready"), (3, "job started"), (4, "job done"),
                           (4, "job finished")])
    assert any("1 deleted row(s) left at the target" in message for _, message in recorder.logs)
    assert any("append-only" in message for level, message in recorder.logs if level == "warning")
