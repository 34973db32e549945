"""The PostgreSQL source against a real server: schemas, snapshot chunks, and the pgoutput change stream."""

from __future__ import annotations

import datetime
import decimal
import time
import uuid
from collections.abc import Callable

import pytest

from connectors.errors import ConnectorError
from connectors.events import COMMIT, DDL, DELETE, HEARTBEAT, INSERT, UPDATE
from connectors.postgresql.position import Lsn
from connectors.postgresql.source import PostgreSQLSource
from connectors.types import Kind, TableId
from tests.connectors.postgresql.conftest import PgSql, collect

Make = Callable[..., PostgreSQLSource]

TYPES_TABLE = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN short_text AS varchar(10);
CREATE TABLE public.types (
    id int PRIMARY KEY, small smallint, big bigint, num numeric(12,3), num_free numeric, r real,
    d double precision, flag boolean, bits bit(6), name varchar(20), code char(4), body text, raw bytea,
    doc jsonb, js json, day date, at_time time(3), local_ts timestamp(6), utc_ts timestamptz(3), id2 uuid,
    m mood, short short_text, span interval, addr inet, tags int[]
)"""
TYPES_ROW = ("INSERT INTO public.types VALUES (1, -7, 9007199254740993, 123456789.125, 1e-20, 1.5, 0.1, true, "
             "B'101001', 'héllo', 'ab', repeat('x', 5), '\\x00ff', '{\"b\": 1, \"a\": [1, 2]}', '{\"z\":  1}', "
             "'2024-02-29', '13:14:15.123', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5+02', "
             "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'happy', 'short', '1 day 02:00:00', '10.0.0.1/24', "
             "'{1,2,3}')")


def test_schema_maps_types_to_canonical(pg_src: PgSql, pg_source: Make) -> None:
    pg_src(TYPES_TABLE)
    schema = pg_source().table_schema(TableId("public", "types"))
    kinds = {c.name: (c.type.kind, c.type.bits, c.type.precision, c.type.scale, c.type.length)
             for c in schema.columns}
    assert kinds["small"] == (Kind.INT, 16, None, None, None)
    assert kinds["big"] == (Kind.INT, 64, None, None, None)
    assert kinds["num"] == (Kind.DECIMAL, None, 12, 3, None)
    assert kinds["num_free"] == (Kind.DECIMAL, None, None, None, None)
    assert kinds["r"][:2] == (Kind.FLOAT, 32)
    assert kinds["bits"] == (Kind.BIT, None, None, None, 6)
    assert kinds["name"] == (Kind.STRING, None, None, None, 20)
    assert kinds["short"] == (Kind.STRING, None, None, None, 10)  # a domain stands for its base type
    assert schema.column("code").type.fixed
    assert schema.column("doc").type.kind is Kind.JSON
    assert schema.column("utc_ts").type.kind is Kind.TIMESTAMP and schema.column("utc_ts").type.fsp == 3
    assert schema.column("local_ts").type.kind is Kind.DATETIME
    assert schema.column("m").type.kind is Kind.ENUM and schema.column("m").type.values == ("sad", "ok", "happy")
    for name in ("span", "addr", "tags"):  # kept as PostgreSQL's exact text
        assert schema.column(name).type.kind is Kind.STRING, name
    assert schema.primary_key == ("id",)
    assert not schema.column("id").nullable


def test_snapshot_and_stream_give_identical_values(pg_src: PgSql, pg_source: Make) -> None:
    pg_src(TYPES_TABLE)
    pg_src(TYPES_ROW)
    source = pg_source()
    table = TableId("public", "types")
    schema = source.table_schema(table)
    start = source.current_position()
    snapshot_rows = [row for chunk in source.snapshot_chunks(schema, 100) for row in source.read_chunk(schema, chunk)]
    assert len(snapshot_rows) == 1
    row = snapshot_rows[0]
    values = dict(zip(schema.column_names, row, strict=True))
    assert values["big"] == 9007199254740993
    assert values["num"] == decimal.Decimal("123456789.125")
    assert values["bits"] == 0b101001
    assert values["raw"] == b"\x00\xff"
    assert values["doc"] == '{"a": [1, 2], "b": 1}'  # jsonb's own text
    assert values["js"] == '{"z":  1}'  # json keeps the text as written
    assert values["at_time"] == datetime.timedelta(hours=13, minutes=14, seconds=15, microseconds=123000)
    assert values["utc_ts"] == datetime.datetime(2024, 1, 2, 1, 4, 5, 500000, tzinfo=datetime.UTC)
    assert values["local_ts"] == datetime.datetime(2024, 1, 2, 3, 4, 5, 123456)
    assert values["id2"] == uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    assert values["m"] == "happy" and values["span"] == "1 day 02:00:00" and values["tags"] == "{1,2,3}"
    # The same row inserted again: the stream's values must equal the snapshot's, column by column.
    pg_src("DELETE FROM public.types")
    pg_src(TYPES_ROW)
    stream = iter(source.changes(start, {table}))
    events = [e for e in collect(stream, commits=2) if e.op != COMMIT]
    assert [e.op for e in events] == [DELETE, INSERT]
    assert events[0].key() == (1,)
    assert events[1].after == row
    assert events[1].schema == schema


def test_changes_carry_keys_commits_and_positions(pg_src: PgSql, pg_source: Make) -> None:
    pg_src("CREATE TABLE public.t (id int PRIMARY KEY, v text, n int)")
    pg_src("CREATE TABLE public.other (id int PRIMARY KEY)")
    source = pg_source()
    table = TableId("public", "t")
    source.table_schema(table)
    start = source.current_position()
    pg_src("INSERT INTO public.t VALUES (1, 'a', 1), (2, 'b', 2)")
    pg_src("INSERT INTO public.other VALUES (1)")  # not a task table: nothing of it arrives
    pg_src("UPDATE public.t SET v = 'a2' WHERE id = 1")
    pg_src("UPDATE public.t SET id = 20 WHERE id = 2")  # a key change: the old key comes with it
    pg_src("DELETE FROM public.t WHERE id = 1")
    events = collect(iter(source.changes(start, {table})), commits=4)
    rows = [(e.op, e.before, e.after) for e in events if e.op != COMMIT]
    assert rows == [
        (INSERT, None, (1, "a", 1)), (INSERT, None, (2, "b", 2)),
        (UPDATE, (1, "a2", 1), (1, "a2", 1)),
        (UPDATE, (2, None, None), (20, "b", 2)),
        (DELETE, (1, None, None), None),
    ]
    commits = [e.position for e in events if e.op == COMMIT and isinstance(e.position, Lsn)]
    assert len(commits) == 4 and commits == sorted(commits) and len(set(commits)) == 4
    assert all(not p < start for p in commits)
    # Row events carry the commit before them: the first transaction's rows carry the start.
    assert events[0].position == start and events[3].position == commits[0]


def test_resume_from_a_commit_replays_nothing(pg_src: PgSql, pg_source: Make) -> None:
    pg_src("CREATE TABLE public.t (id int PRIMARY KEY, v text)")
    source = pg_source()
    table = TableId("public", "t")
    source.table_schema(table)
    start = source.current_position()
    for i in range(1, 4):
        pg_src(f"INSERT INTO public.t VALUES ({i}, 'v{i}')")
    first = collect(iter(source.changes(start, {table})), commits=2)
    resume_at = [e.position for e in first if e.op == COMMIT and isinstance(e.position, Lsn)][-1]
    source.close()
    again = pg_source(slot_name=source.slot)
    pg_src("INSERT INTO public.t VALUES (4, 'v4')")
    events = collect(iter(again.changes(resume_at, {table})), commits=2)
    assert [e.after[0] for e in events if e.op == INSERT and e.after is not None] == [3, 4]


def test_confirm_releases_wal_only_up_to_the_confirmed_position(pg_src: PgSql, pg_source: Make,
                                                                 postgres: object) -> None:
    pg_src("CREATE TABLE public.t (id int PRIMARY KEY, v text)")
    source = pg_source(heartbeat_interval=0.2)
    table = TableId("public", "t")
    source.table_schema(table)
    start = source.current_position()
    pg_src("INSERT INTO public.t SELECT g, repeat('x', 500) FROM generate_series(1, 2000) g")
    stream = iter(source.changes(start, {table}))
    events = collect(stream, commits=1)
    commit = events[-1].position
    assert isinstance(commit, Lsn)
    # Read on past heartbeats without confirming: the slot stays at the start.
    for event in stream:
        if event.op == HEARTBEAT:
            break
    state = source.slot_state()
    assert state is not None and Lsn.parse(state["confirmed_flush_lsn"]) == start
    assert state["unconfirmed_bytes"] >= commit.value - start.value
    source.confirm(commit)  # the target committed it
    for _ in range(10):  # a few heartbeats: each sends a status update
        next(e for e in stream if e.op == HEARTBEAT)
        state = source.slot_state()
        assert state is not None
        if Lsn.parse(state["confirmed_flush_lsn"]) == commit:
            break
    assert Lsn.parse(state["confirmed_flush_lsn"]) == commit


def test_schema_drift_becomes_ddl_events(pg_src: PgSql, pg_source: Make) -> None:
    pg_src("CREATE TABLE public.t (id int PRIMARY KEY, v text, gone int)")
    source = pg_source()
    table = TableId("public", "t")
    source.table_schema(table)
    start = source.current_position()
    pg_src("INSERT INTO public.t VALUES (1, 'a', 5)")
    pg_src("ALTER TABLE public.t ADD COLUMN extra numeric(5,1) DEFAULT 2.5")
    pg_src("INSERT INTO public.t VALUES (2, 'b', 6, 3.5)")
    pg_src("ALTER TABLE public.t DROP COLUMN gone")
    pg_src("UPDATE public.t SET v = 'c' WHERE id = 1")
    pg_src("TRUNCATE public.t")
    events = collect(iter(source.changes(start, {table})), commits=4)
    ops = [(e.op, e.ddl) for e in events if e.op != COMMIT]
    assert ops == [
        (INSERT, None),
        (DDL, 'ALTER TABLE "public"."t" ADD COLUMN "extra" numeric(5,1)'),
        (INSERT, None),
        (DDL, 'ALTER TABLE "public"."t" DROP COLUMN "gone"'),
        (UPDATE, None),
        (DDL, 'TRUNCATE TABLE "public"."t"'),
    ]
    added = next(e for e in events if e.op == DDL)
    assert added.schema is not None and added.schema.column_names == ("id", "v", "gone", "extra")
    inserted = [e for e in events if e.op == INSERT][1]
    assert inserted.after == (2, "b", 6, decimal.Decimal("3.5"))
    updated = next(e for e in events if e.op == UPDATE)
    assert updated.after == (1, "c", decimal.Decimal("2.5")) and updated.schema is not None
    assert updated.schema.column_names == ("id", "v", "extra")


def test_unchanged_toast_values_are_filled_in(pg_src: PgSql, pg_source: Make) -> None:
    pg_src("CREATE TABLE public.t (id int PRIMARY KEY, big text, n int)")
    pg_src("ALTER TABLE public.t ALTER COLUMN big SET STORAGE EXTERNAL")  # toasted, uncompressed
    big = "".join(chr(65 + i % 26) for i in range(20000))
    source = pg_source()
    table = TableId("public", "t")
    source.table_schema(table)
    start = source.current_position()
    pg_src("INSERT INTO public.t VALUES (1, %s, 1)", [big])
    pg_src("UPDATE public.t SET n = 2 WHERE id = 1")  # big is not resent by the server
    events = [e for e in collect(iter(source.changes(start, {table})), commits=2) if e.op != COMMIT]
    assert events[1].op == UPDATE and events[1].after == (1, big, 2)


def test_tables_whose_updates_cannot_be_published_are_refused(pg_src: PgSql, pg_source: Make) -> None:
    pg_src("CREATE TABLE public.nokey (a int, b text)")
    pg_src("CREATE TABLE public.nothing (id int PRIMARY KEY)")
    pg_src("ALTER TABLE public.nothing REPLICA IDENTITY NOTHING")
    for name, words in (("nokey", "no primary key"), ("nothing", "REPLICA IDENTITY NOTHING")):
        source = pg_source()
        source.table_schema(TableId("public", name))
        with pytest.raises(ConnectorError) as error:
            source.current_position()
        assert words in str(error.value) and "REPLICA IDENTITY FULL" in error.value.hint
    # The application's own updates still work: the table never joined a publication.
    pg_src("INSERT INTO public.nokey VALUES (1, 'x')")
    pg_src("UPDATE public.nokey SET b = 'y'")


def test_keyless_table_with_full_identity_streams(pg_src: PgSql, pg_source: Make) -> None:
    pg_src("CREATE TABLE public.nokey (a int, b text)")
    pg_src("ALTER TABLE public.nokey REPLICA IDENTITY FULL")
    source = pg_source(allow_no_primary_key=True)
    table = TableId("public", "nokey")
    schema = source.table_schema(table)
    start = source.current_position()
    assert list(source.snapshot_chunks(schema, 10)) and schema.key_columns == ()
    pg_src("INSERT INTO public.nokey VALUES (1, 'x')")
    pg_src("UPDATE public.nokey SET b = 'y'")
    events = [e for e in collect(iter(source.changes(start, {table})), commits=2) if e.op != COMMIT]
    assert [(e.op, e.before, e.after) for e in events] == [(INSERT, None, (1, "x")), (UPDATE, (1, "x"), (1, "y"))]


def test_snapshot_chunks_cover_every_row_once(pg_src: PgSql, pg_source: Make) -> None:
    pg_src("CREATE TABLE public.dense (id int PRIMARY KEY, v text)")
    pg_src("INSERT INTO public.dense SELECT g, 'v' || g FROM generate_series(1, 1000) g")
    pg_src("ANALYZE public.dense")
    pg_src("CREATE TABLE public.composite (a text, b int, v text, PRIMARY KEY (a, b))")
    pg_src("INSERT INTO public.composite SELECT 'k' || (g % 7), g, 'v' FROM generate_series(1, 500) g")
    source = pg_source()
    for name, count in (("dense", 1000), ("composite", 500)):
        schema = source.table_schema(TableId("public", name))
        chunks = list(source.snapshot_chunks(schema, 64))
        assert len(chunks) > 5, name
        keys = [row[:len(schema.key_columns)] for chunk in chunks for row in source.read_chunk(schema, chunk)]
        assert len(keys) == count and len(set(keys)) == count, name


def test_release_drops_slot_and_publication(pg_src: PgSql, pg_source: Make) -> None:
    pg_src("CREATE TABLE public.t (id int PRIMARY KEY)")
    source = pg_source()
    source.table_schema(TableId("public", "t"))
    source.current_position()
    assert source.slot_state() is not None
    assert pg_src("SELECT count(*) FROM pg_publication WHERE pubname = %s", [source.publication]) == [(1,)]
    assert sorted(source.release()) == [f"publication {source.publication}", f"slot {source.slot}"]
    assert source.slot_state() is None
    assert pg_src("SELECT count(*) FROM pg_publication WHERE pubname = %s", [source.publication]) == [(0,)]
    assert source.release() == []  # nothing left: deleting twice is harmless


def test_a_missing_slot_is_an_error_not_a_silent_gap(pg_src: PgSql, pg_source: Make) -> None:
    pg_src("CREATE TABLE public.t (id int PRIMARY KEY)")
    source = pg_source()
    with pytest.raises(ConnectorError) as error:
        source.changes(Lsn.parse("0/1000000"), {TableId("public", "t")})
    assert "does not exist" in str(error.value) and "snapshot" in error.value.hint


def test_slot_name_is_required_and_checked(pg_src: PgSql, pg_source: Make) -> None:
    with pytest.raises(ConnectorError) as error:
        pg_source(slot_name="Bad-Name").slot  # noqa: B018
    assert "slot_name" in error.value.hint
    source = pg_source(slot_name="", server_id=42)
    assert source.slot == "dts_s42"


def walsender_of(sql: PgSql, slot: str) -> int | None:
    rows = sql("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", [slot])
    return rows[0][0] if rows else None


def terminate_walsender(sql: PgSql, slot: str) -> int:
    """Kill the server process streaming from slot (as a server restart or a network cut would end it)."""
    for _ in range(100):
        pid = walsender_of(sql, slot)
        if pid is not None:
            sql("SELECT pg_terminate_backend(%s)", [pid])
            return int(pid)
        time.sleep(0.05)
    raise AssertionError(f"no walsender holds {slot}")


def test_a_lost_stream_reconnects_without_losing_or_repeating_changes(pg_src: PgSql, pg_source: Make) -> None:
    pg_src("CREATE TABLE public.t (id int PRIMARY KEY, v text)")
    source = pg_source(reconnect_timeout=30)
    table = TableId("public", "t")
    source.table_schema(table)
    start = source.current_position()
    pg_src("INSERT INTO public.t SELECT g, 'big' FROM generate_series(1, 5000) g")  # one transaction
    pg_src("INSERT INTO public.t VALUES (5001, 'after')")
    stream = iter(source.changes(start, {table}))
    seen: list[int] = []
    for event in stream:  # part of the big transaction, then the connection dies under it
        if event.op == INSERT and event.after is not None:
            seen.append(event.after[0])
            if len(seen) == 100:
                break
    killed = terminate_walsender(pg_src, source.slot)
    pg_src("INSERT INTO public.t VALUES (5002, 'later')")
    commits = 0
    for event in stream:
        if event.op == INSERT and event.after is not None:
            seen.append(event.after[0])
        elif event.op == COMMIT:
            commits += 1
            if commits == 3:
                break
    assert seen == list(range(1, 5003))  # every row once, in order
    # The stream really was cut and resumed: another walsender serves the slot now.
    assert walsender_of(pg_src, source.slot) not in (None, killed)


def test_confirmations_wait_for_a_position_taken_to_add_tables(pg_src: PgSql, pg_source: Make) -> None:
    """A task adding a table: the others stream on and confirm, but not past where the new table's copy began."""
    pg_src("CREATE TABLE public.a (id int PRIMARY KEY)")
    pg_src("CREATE TABLE public.b (id int PRIMARY KEY)")
    a, b = TableId("public", "a"), TableId("public", "b")
    main = pg_source()
    main.table_schema(a)
    start = main.current_position()
    streaming = pg_source(slot_name=main.slot)  # the stream of the tables already joined
    stream = iter(streaming.changes(start, {a}))
    main.table_schema(b)
    join_at = main.current_position()  # before copying b
    pg_src("INSERT INTO public.b VALUES (1)")  # during the copy: must reach the target through the stream
    pg_src("INSERT INTO public.a VALUES (1)")
    commit = next(e.position for e in stream if e.op == COMMIT)
    assert isinstance(commit, Lsn) and join_at < commit
    streaming.confirm(commit)
    for _ in range(5):
        next(e for e in stream if e.op == HEARTBEAT)
    state = main.slot_state()
    assert state is not None and not join_at < Lsn.parse(state["confirmed_flush_lsn"])  # held at the pin
    streaming.close()
    events = collect(iter(main.changes(join_at, {a, b})), commits=2)
    assert [(e.table, e.after) for e in events if e.op == INSERT] == [(b, (1,)), (a, (1,))]
