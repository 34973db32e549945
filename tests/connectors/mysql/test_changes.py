"""The binlog change stream: row images in order, commits, resume, heartbeats, DDL and schema history,
purged positions and reconnecting after a server restart."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest

from connectors.events import COMMIT, DDL, DELETE, HEARTBEAT, INSERT, UPDATE, ChangeEvent
from connectors.mysql.connection import quote_ident
from connectors.mysql.errors import BinlogPurgedError, MissingServerIdError
from connectors.mysql.position import BinlogPosition
from connectors.types import Kind, TableId
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql, changes_since, read_until_idle, row_events, source_for


def ops(events: list[ChangeEvent]) -> list[tuple[Any, ...]]:
    return [(e.op, e.before, e.after) for e in events if e.op != COMMIT]


def test_insert_update_delete_and_key_change_in_order_with_full_images(sql: Sql, make_source: Any) -> None:
    sql("CREATE TABLE t (id int primary key, v varchar(10), n int)")
    sql("CREATE TABLE other (id int primary key)")
    table = TableId(sql.database, "t")
    source = make_source()
    start = source.current_position()
    sql("INSERT INTO t VALUES (1, 'a', 10)")
    sql("UPDATE t SET v = 'b' WHERE id = 1")
    sql("UPDATE t SET id = 2 WHERE id = 1")
    sql("INSERT INTO other VALUES (1)")  # not a selected table
    sql("BEGIN")
    sql("INSERT INTO t VALUES (3, 'c', NULL), (4, 'd', 40)")
    sql("DELETE FROM t WHERE id = 2")
    sql("UPDATE t SET n = n + 1")
    sql("COMMIT")
    events = changes_since(source, start, table)
    assert ops(events) == [
        (INSERT, None, (1, "a", 10)),
        (UPDATE, (1, "a", 10), (1, "b", 10)),
        (UPDATE, (1, "b", 10), (2, "b", 10)),
        (INSERT, None, (3, "c", None)),
        (INSERT, None, (4, "d", 40)),
        (DELETE, (2, "b", 10), None),
        (UPDATE, (4, "d", 40), (4, "d", 41)),  # NULL + 1 changes nothing: the server logs no row for id 3
    ]
    key_change = row_events(events)[2]
    assert key_change.key() == (1,) and key_change.new_key() == (2,)
    # One COMMIT after each transaction that touched t, with positions strictly increasing.
    commits = [e for e in events if e.op == COMMIT]
    assert [e.op for e in events].count(COMMIT) == 4
    positions = [e.position for e in commits if isinstance(e.position, BinlogPosition)]
    assert len(positions) == len(commits)
    assert all(a < b for a, b in itertools.pairwise(positions))
    assert start < positions[0]
    assert all(e.table == table and e.schema is not None for e in events if e.op != COMMIT)
    assert all(abs(e.commit_time - time.time()) < 120 for e in events)
    last = commits[-1].position
    assert isinstance(last, BinlogPosition) and last.gtid and last == source.current_position()


def test_resume_from_a_commit_position_yields_exactly_what_follows(sql: Sql, make_source: Any) -> None:
    sql("CREATE TABLE t (id int primary key, v int)")
    table = TableId(sql.database, "t")
    source = make_source()
    start = source.current_position()
    for i in range(6):
        sql("INSERT INTO t VALUES (%s, 0)", (i,))
        sql("UPDATE t SET v = v + 1 WHERE id = %s", (i,))
        if i == 2:
            sql("FLUSH BINARY LOGS")  # the stream and the saved positions cross into a new file
    everything = changes_since(source, start, table)
    commits = [i for i, e in enumerate(everything) if e.op == COMMIT]
    assert len(commits) == 12
    files = {e.position.file for e in everything if e.op == COMMIT and isinstance(e.position, BinlogPosition)}
    assert len(files) == 2
    for cut in (commits[0], commits[5], commits[10], commits[11]):
        saved = everything[cut].position
        assert isinstance(saved, BinlogPosition)
        restored = source.position_from_json(saved.to_json())
        again = changes_since(make_source(), restored, table)
        assert ops(again) == ops(everything[cut + 1:])
        assert [e.position for e in again if e.op == COMMIT] == [e.position for e in everything[cut + 1:]
                                                                  if e.op == COMMIT]


def test_heartbeats_carry_the_position_while_the_source_is_idle(sql: Sql, make_source: Any) -> None:
    sql("CREATE TABLE t (id int primary key)")
    source = make_source(heartbeat_interval=0.3)
    sql("INSERT INTO t VALUES (1)")
    start = source.current_position()
    stream = source.changes(start, {TableId(sql.database, "t")})
    began = time.time()
    beats: list[ChangeEvent] = []
    for event in stream:
        assert event.op == HEARTBEAT
        beats.append(event)
        if len(beats) == 3:
            break
    stream.close()  # type: ignore[attr-defined]
    assert time.time() - began < 10
    assert all(b.position == start for b in beats)
    assert all(abs(b.commit_time - time.time()) < 10 for b in beats)


def test_only_the_selected_tables_are_streamed(sql: Sql, make_source: Any, mariadb: MariaDBServer) -> None:
    sql("CREATE TABLE t (id int primary key)")
    sql("CREATE TABLE u (id int primary key)")
    twin_db = f"{sql.database}_twin"
    twin = quote_ident(twin_db)
    sql(f"CREATE DATABASE {twin}")
    try:
        sql(f"CREATE TABLE {twin}.t (id int primary key)")
        source = make_source()
        start = source.current_position()
        sql("INSERT INTO u VALUES (1)")
        sql(f"INSERT INTO {twin}.t VALUES (2)")
        sql("INSERT INTO t VALUES (3)")
        events = changes_since(source, start, TableId(sql.database, "t"))
        assert ops(events) == [(INSERT, None, (3,))]
    finally:
        sql(f"DROP DATABASE {twin}")


def test_missing_server_id_is_a_clear_error(mariadb: MariaDBServer) -> None:
    source = source_for(mariadb, server_id=None)
    try:
        with pytest.raises(MissingServerIdError, match="server_id"):
            source.changes(source.current_position(), {TableId("x", "y")})
    finally:
        source.close()


def test_rows_decode_with_the_schema_of_their_time_across_ddl(sql: Sql, make_source: Any) -> None:
    sql("CREATE TABLE t (id int primary key, a varchar(5))")
    table = TableId(sql.database, "t")
    source = make_source()
    start = source.current_position()
    stream = source.changes(start, {table})  # reads information_schema now: (id, a)
    sql("INSERT INTO t VALUES (1, 'x')")
    sql("ALTER TABLE t ADD COLUMN b int DEFAULT 7")
    sql("INSERT INTO t VALUES (2, 'y', 20)")
    sql("ALTER TABLE t DROP COLUMN a")
    sql("INSERT INTO t VALUES (3, 30)")
    sql("CREATE TABLE fresh (id int primary key)")  # a new table in a selected database is announced
    # information_schema is already at (id, b) when the stream reaches the first ALTER.
    events = read_until_idle(stream)
    stream.close()  # type: ignore[attr-defined]
    rows = row_events(events)
    assert [(e.op, e.after) for e in rows if e.op == INSERT] == [(INSERT, (1, "x")), (INSERT, (2, "y", 20)),
                                                                 (INSERT, (3, 30))]
    inserts = [e for e in rows if e.op == INSERT]
    assert [e.schema.column_names for e in inserts if e.schema] == [("id", "a"), ("id", "a", "b"), ("id", "b")]
    versions = [e.schema.version for e in inserts if e.schema]
    assert len(set(versions)) == 3
    ddl = [e for e in events if e.op == DDL]
    assert [(e.table, e.ddl) for e in ddl] == [
        (table, "ALTER TABLE t ADD COLUMN b int DEFAULT 7"), (table, "ALTER TABLE t DROP COLUMN a"),
        (TableId(sql.database, "fresh"), "CREATE TABLE fresh (id int primary key)")]
    assert all(e.schema is not None for e in ddl)
    assert ddl[-1].schema is not None and ddl[-1].schema.column_names == ("id",)
    # Each DDL statement is a transaction of its own: a COMMIT with the position after it follows.
    for event in ddl:
        following = events[events.index(event) + 1]
        assert following.op == COMMIT and following.position == event.position
    # Later rows reuse the information_schema description (native types, defaults) where they agree.
    b_column = inserts[2].schema.column("b") if inserts[2].schema else None
    assert b_column is not None and b_column.type.native == "int(11)"
    # A stream started only now (information_schema says (id, b) from the start) decodes the same rows.
    late = [e for e in row_events(changes_since(make_source(), start, table)) if e.op == INSERT]
    assert [(e.after, e.schema.column_names if e.schema else None) for e in late] == [
        ((1, "x"), ("id", "a")), ((2, "y", 20), ("id", "a", "b")), ((3, 30), ("id", "b"))]
    a_column = late[0].schema.column("a") if late[0].schema else None
    assert a_column is not None and (a_column.type.kind, a_column.type.length) == (Kind.STRING, 5)


def test_drop_and_rename_announce_the_tables_they_remove(sql: Sql, make_source: Any) -> None:
    sql("CREATE TABLE t (id int primary key)")
    sql("CREATE TABLE gone (id int primary key)")
    table = TableId(sql.database, "t")
    source = make_source()
    start = source.current_position()
    sql("RENAME TABLE t TO t2")
    sql("DROP TABLE gone")
    sql("TRUNCATE TABLE t2")
    events = [e for e in changes_since(source, start, table) if e.op == DDL]
    assert [(e.table.name if e.table else None, e.schema is None) for e in events] == [
        ("t", True), ("t2", False), ("gone", True), ("t2", False)]


def test_a_purged_start_position_says_a_new_snapshot_is_needed(own_mariadb: MariaDBServer) -> None:
    conn = own_mariadb.connect()
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS p")
        cur.execute("CREATE TABLE IF NOT EXISTS p.t (id int primary key)")
    source = source_for(own_mariadb)
    try:
        start = source.current_position()
        with conn.cursor() as cur:
            cur.execute("INSERT INTO p.t VALUES (1)")
        # MariaDB keeps a file until its binlog checkpoint has passed (InnoDB flushed): retry for a while.
        deadline = time.monotonic() + 20
        while start.file in source.binary_logs():
            assert time.monotonic() < deadline, "the server would not purge the binlog"
            with conn.cursor() as cur:
                cur.execute("FLUSH BINARY LOGS")
                cur.execute("PURGE BINARY LOGS TO %s", (source.current_position().file,))
            time.sleep(0.2)
        with pytest.raises(BinlogPurgedError, match="gone") as info:
            next(iter(source.changes(start, {TableId("p", "t")})))
        assert "restart the task from scratch" in str(info.value) and start.file in str(info.value)
    finally:
        source.close()
        conn.close()


def test_a_stream_cut_mid_transaction_resumes_without_repeating_what_it_yielded(
        own_mariadb: MariaDBServer) -> None:
    conn = own_mariadb.connect()
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS k")
        cur.execute("CREATE TABLE IF NOT EXISTS k.t (id int primary key, pad varchar(2000))")
    table = TableId("k", "t")
    source = source_for(own_mariadb)
    try:
        start = source.current_position()
        with conn.cursor() as cur:
            # One transaction of many rows events (the server splits them at binlog_row_event_max_size),
            # more than the socket buffers hold, so the cut lands inside it.
            cur.execute("BEGIN")
            cur.executemany("INSERT INTO k.t VALUES (%s, REPEAT('x', 1900))", [(i,) for i in range(3000)])
            cur.execute("COMMIT")
            cur.execute("INSERT INTO k.t VALUES (3000, 'last')")
        stream = source.changes(start, {table})
        got: list[ChangeEvent] = []
        for event in stream:
            got.append(event)
            if len(got) == 10:
                break
        with conn.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
            for (thread,) in cur.fetchall():
                cur.execute("KILL CONNECTION %s", (int(thread),))
        got += read_until_idle(stream, timeout=60)
        stream.close()  # type: ignore[attr-defined]
        ids = [e.after[0] for e in got if e.op == INSERT and e.after is not None]
        assert ids == list(range(3001))
        assert [e.op for e in got].count(COMMIT) == 2
    finally:
        source.close()
        conn.close()


def test_the_stream_survives_a_server_restart_without_gaps_or_duplicates(
        own_mariadb: MariaDBServer) -> None:
    conn = own_mariadb.connect()
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS r")
        cur.execute("CREATE TABLE IF NOT EXISTS r.t (id int primary key, pad varchar(2000))")
    table = TableId("r", "t")
    source = source_for(own_mariadb, heartbeat_interval=0.5)
    try:
        start = source.current_position()
        with conn.cursor() as cur:
            cur.execute("INSERT INTO r.t VALUES (0, 'first')")
            cur.execute("BEGIN")  # a transaction too big to be in the client's buffers when the server dies
            cur.executemany("INSERT INTO r.t VALUES (%s, REPEAT('x', 1900))", [(i,) for i in range(1, 3000)])
            cur.execute("COMMIT")
        conn.close()
        stream = source.changes(start, {table})
        got: list[ChangeEvent] = []
        for event in stream:
            if event.op != HEARTBEAT:
                got.append(event)
            if len(row_events(got)) == 10:  # in the middle of the big transaction
                break
        own_mariadb.kill()  # as a crash would; the data dir stays

        def write_after_restart() -> None:
            time.sleep(1.5)  # the stream finds the server down and backs off meanwhile
            own_mariadb.start()
            writer = own_mariadb.connect()
            with writer.cursor() as cur:
                cur.execute("INSERT INTO r.t VALUES (3000, 'after')")
                cur.execute("UPDATE r.t SET pad = 'changed' WHERE id = 3000")
            writer.close()

        threading.Thread(target=write_after_restart).start()
        got += read_until_idle(stream, timeout=90, stop=lambda events: any(
            e.op == UPDATE for e in events))
        got += read_until_idle(stream, timeout=30)  # anything more would be a duplicate
        stream.close()  # type: ignore[attr-defined]
        rows = row_events(got)
        assert [e.after[0] for e in rows if e.op == INSERT and e.after] == list(range(3001))
        assert [(e.op, e.after) for e in rows[-2:]] == [(INSERT, (3000, "after")), (UPDATE, (3000, "changed"))]
        commits = [e.position for e in got if e.op == COMMIT and isinstance(e.position, BinlogPosition)]
        assert len(commits) == 4 and all(a < b for a, b in itertools.pairwise(commits))
        # Whether the library's own reconnect or ours resumed depends on timing; either way nothing
        # was lost or repeated (asserted above).
    finally:
        source.close()


def test_a_position_the_server_refuses_needs_a_new_snapshot_not_a_retry_loop(sql: Sql, make_source: Any) -> None:
    sql("CREATE TABLE t (id int primary key)")
    source = make_source()
    head = source.current_position()
    beyond = BinlogPosition(head.file, head.pos + 10_000_000)  # error 1236, though the file exists
    with pytest.raises(BinlogPurgedError, match=r"cannot be read from the server any more.*impossible position"):
        next(iter(source.changes(beyond, {TableId(sql.database, "t")})))


def test_close_ends_open_streams(sql: Sql, make_source: Any, mariadb: MariaDBServer) -> None:
    sql("CREATE TABLE t (id int primary key)")
    source = make_source()
    stream = source.changes(source.current_position(), {TableId(sql.database, "t")})
    assert next(stream).op == HEARTBEAT

    def dump_threads() -> int:
        conn = mariadb.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%%'")
            (count,) = cur.fetchone()
        conn.close()
        return int(count)

    assert dump_threads() >= 1  # (a closed stream of an earlier test may linger until its next heartbeat)
    source.close()
    deadline = time.monotonic() + 10
    while dump_threads() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dump_threads() == 0
    with pytest.raises(StopIteration):
        next(stream)
