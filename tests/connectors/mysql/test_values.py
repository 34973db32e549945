"""Every MySQL type read through the snapshot and through the binlog gives the same canonical values,
and zero dates follow the task's policy on both paths."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal
from typing import Any

import pytest
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import WriteRowsEvent

from connectors.events import COMMIT, DELETE, INSERT
from connectors.mysql.connection import quote_ident
from connectors.mysql.errors import ZeroDateError
from connectors.mysql.snapshot import drivers_available
from connectors.types import Kind, TableId
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql, changes_since, row_events

UTC = datetime.UTC
D = datetime.date
DT = datetime.datetime
TD = datetime.timedelta

COLUMNS = [
    ("id", "int primary key"),
    ("ti", "tinyint"), ("tiu", "tinyint unsigned"), ("t1", "tinyint(1)"), ("si", "smallint"),
    ("siu", "smallint unsigned"), ("mi", "mediumint"), ("miu", "mediumint unsigned"), ("i", "int"),
    ("iu", "int unsigned"), ("bi", "bigint"), ("biu", "bigint unsigned"),
    ("dec65", "decimal(65,30)"), ("dec12", "decimal(12,2)"), ("dec0", "decimal(10,0)"),
    ("f", "float"), ("d", "double"),
    ("b1", "bit(1)"), ("b10", "bit(10)"), ("b64", "bit(64)"),
    ("c", "char(5)"), ("vc", "varchar(100)"), ("tt", "tinytext"), ("tx", "text"), ("mt", "mediumtext"),
    ("lt", "longtext"), ("bn", "binary(4)"), ("vb", "varbinary(10)"), ("tb", "tinyblob"), ("bl", "blob"),
    ("mb", "mediumblob"), ("lb", "longblob"),
    ("e", "enum('a','it''s','x,y')"), ("s", "set('p','q','r')"), ("j", "json"),
    ("dt", "date"), ("tm", "time"), ("tm6", "time(6)"), ("dtm", "datetime"), ("dtm6", "datetime(6)"),
    ("ts", "timestamp NULL"), ("ts6", "timestamp(6) NULL"), ("y", "year"),
]
DEC65 = "12345678901234567890123456789012345.123456789012345678901234567890"
JSON_TEXT = '{"a": [1, 2.5, {"b": null}], "c": "\U0001F600 \u4e2d"}'

# (value as written by a session with time_zone '+05:30', canonical value)
ROWS: list[list[tuple[Any, Any]]] = [
    [(1, 1), (-128, -128), (255, 255), (2, 2), (-32768, -32768), (65535, 65535), (-8388608, -8388608),
     (16777215, 16777215), (-2147483648, -2147483648), (4294967295, 4294967295),
     (-9223372036854775808, -9223372036854775808), (18446744073709551615, 18446744073709551615),
     (DEC65, Decimal(DEC65)), ("1234567890.12", Decimal("1234567890.12")), ("-9999999999", Decimal(-9999999999)),
     (0.1, 0.1), (1.7976931348623157e308, 1.7976931348623157e308),
     (1, 1), (1023, 1023), (2**64 - 1, 2**64 - 1),
     ("ab", "ab"), ("h\u00e9llo \U0001F600 \u4e2d\u6587", "h\u00e9llo \U0001F600 \u4e2d\u6587"), ("tiny", "tiny"),
     ("text \U0001F600", "text \U0001F600"), ("m" * 1000, "m" * 1000), ("\u4e2d" * 20000, "\u4e2d" * 20000),
     (b"ab", b"ab\x00\x00"), (b"\x00\x01\x00\x00", b"\x00\x01\x00\x00"), (b"\xff\x00", b"\xff\x00"),
     (bytes(range(256)), bytes(range(256))), (b"\x00" * 70000, b"\x00" * 70000), (b"x", b"x"),
     ("it's", "it's"), ("r,p", "p,r"), (JSON_TEXT, JSON_TEXT),
     ("2024-02-29", D(2024, 2, 29)), ("-838:59:59", -TD(hours=838, minutes=59, seconds=59)),
     ("100:00:00.123456", TD(hours=100, microseconds=123456)), ("9999-12-31 23:59:59", DT(9999, 12, 31, 23, 59, 59)),
     ("2024-01-02 03:04:05.123456", DT(2024, 1, 2, 3, 4, 5, 123456)),
     ("2038-01-19 08:44:07", DT(2038, 1, 19, 3, 14, 7, tzinfo=UTC)),
     ("2024-01-02 03:04:05.123456", DT(2024, 1, 1, 21, 34, 5, 123456, tzinfo=UTC)), (2155, 2155)],
    [(2, 2), (127, 127), (0, 0), (-1, -1), (32767, 32767), (0, 0), (8388607, 8388607), (0, 0),
     (2147483647, 2147483647), (0, 0), (9223372036854775807, 9223372036854775807), (0, 0),
     ("-0.000000000000000000000000000001", Decimal("-0.000000000000000000000000000001")),
     ("-0.01", Decimal("-0.01")), ("0", Decimal(0)),
     (-1.2345678, -1.2345678), (-2.5e-300, -2.5e-300),
     (0, 0), (1, 1), (2**63 + 1, 2**63 + 1),
     ("", ""), ("", ""), ("", ""), (" trailing ", " trailing "), ("", ""), ("", ""),
     (b"\x00\x00\x00\x00", b"\x00\x00\x00\x00"), (b"", b""), (b"", b""), (b"", b""), (b"", b""), (b"", b""),
     ("x,y", "x,y"), ("", ""), ("[]", "[]"),
     ("1000-01-01", D(1000, 1, 1)), ("-00:00:01", TD(seconds=-1)), ("-00:00:00.000001", TD(microseconds=-1)),
     ("1000-01-01 00:00:00", DT(1000, 1, 1)), ("2024-06-30 23:59:59.999999", DT(2024, 6, 30, 23, 59, 59, 999999)),
     ("1970-01-01 05:30:01", DT(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),
     ("2024-07-01 00:00:00.000001", DT(2024, 6, 30, 18, 30, 0, 1, tzinfo=UTC)), (1901, 1901)],
    [(3, 3)] + [(None, None)] * (len(COLUMNS) - 1),
]
EXPECTED = [tuple(canonical for _, canonical in row) for row in ROWS]


def create_all_types(sql: Sql) -> TableId:
    sql(f"CREATE TABLE rt ({', '.join(f'{quote_ident(name)} {ddl}' for name, ddl in COLUMNS)})")
    return TableId(sql.database, "rt")


def insert_all_types(sql: Sql) -> None:
    sql("SET time_zone = '+05:30'")  # TIMESTAMPs must come out in UTC whatever the writer's zone
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    for row in ROWS:
        sql(f"INSERT INTO rt VALUES ({placeholders})", [written for written, _ in row])


@pytest.mark.parametrize("driver", drivers_available())
def test_snapshot_and_binlog_give_the_same_canonical_values_for_every_type(sql: Sql, make_source: Any,
                                                                           driver: str) -> None:
    table = create_all_types(sql)
    source = make_source(driver=driver)
    start = source.current_position()
    insert_all_types(sql)
    schema = source.table_schema(table)
    assert [c.name for c in schema.columns] == [name for name, _ in COLUMNS]
    assert schema.primary_key == ("id",)
    assert schema.column("j").type.kind == Kind.JSON
    assert schema.column("t1").type.kind == Kind.INT and schema.column("t1").type.bits == 8
    assert schema.column("biu").type.unsigned and schema.column("e").type.values == ("a", "it's", "x,y")

    snapshot = [row for chunk in source.snapshot_chunks(schema, 2) for row in source.read_chunk(schema, chunk)]
    snapshot.sort(key=lambda r: r[0])
    assert snapshot == EXPECTED
    for got, expected in zip(snapshot, EXPECTED, strict=True):
        for (name, _), value, want in zip(COLUMNS, got, expected, strict=True):
            assert value == want and type(value) is type(want), f"snapshot {name}: {value!r} != {want!r}"
    assert snapshot[0][COLUMNS.index(("ts6", "timestamp(6) NULL"))].tzinfo == UTC

    sql("DELETE FROM rt")
    events = row_events(changes_since(source, start, table))
    inserts = [e.after for e in events if e.op == INSERT and e.after is not None]
    deletes = [e.before for e in events if e.op == DELETE and e.before is not None]
    assert inserts == EXPECTED and deletes == EXPECTED
    for got, expected in zip(inserts, EXPECTED, strict=True):
        for (name, _), value, want in zip(COLUMNS, got, expected, strict=True):
            assert type(value) is type(want), f"binlog {name}: {value!r} is not a {type(want).__name__}"
    # The binlog's TABLE_MAP agreed with information_schema, so events carry the same schema.
    assert all(e.schema is not None and e.schema.columns == schema.columns for e in events)


ZERO_TABLE = "CREATE TABLE zd (id int primary key, d date, dt datetime(3), ts timestamp(6) NULL, nn date NOT NULL)"
ZERO_ROWS = [
    (1, "0000-00-00", "0000-00-00 00:00:00", "0000-00-00 00:00:00", "0000-00-00"),
    (2, "2024-00-15", "2024-01-00 10:11:12.5", None, "2024-02-00"),
    (3, "2024-02-29", "2024-02-29 01:02:03.125", "2024-01-02 03:04:05.000001", "2000-01-01"),
    (4, None, None, None, "1999-12-31"),
]
VALID = (3, D(2024, 2, 29), DT(2024, 2, 29, 1, 2, 3, 125000), DT(2024, 1, 2, 3, 4, 5, 1, tzinfo=UTC), D(2000, 1, 1))
ZERO_EXPECTED: dict[str, list[tuple[Any, ...]]] = {
    "null": [(1, None, None, None, None), (2, None, None, None, None), VALID, (4, None, None, None, D(1999, 12, 31))],
    "epoch": [(1, D(1970, 1, 1), DT(1970, 1, 1), DT(1970, 1, 1, tzinfo=UTC), D(1970, 1, 1)),
              (2, D(1970, 1, 1), DT(1970, 1, 1), None, D(1970, 1, 1)), VALID, (4, None, None, None, D(1999, 12, 31))],
    "string": [(1, "0000-00-00", "0000-00-00 00:00:00.000", "0000-00-00 00:00:00.000000", "0000-00-00"),
               (2, "2024-00-15", "2024-01-00 10:11:12.500", None, "2024-02-00"),
               (3, "2024-02-29", "2024-02-29 01:02:03.125", "2024-01-02 03:04:05.000001", "2000-01-01"),
               (4, None, None, None, "1999-12-31")],
}


def write_zero_dates(sql: Sql) -> TableId:
    sql(ZERO_TABLE)
    sql("SET sql_mode = '', time_zone = '+00:00'")  # allow zero dates in this session
    for row in ZERO_ROWS:
        sql("INSERT INTO zd VALUES (%s, %s, %s, %s, %s)", row)
    return TableId(sql.database, "zd")


@pytest.mark.parametrize("policy", ["null", "epoch", "string"])
def test_zero_dates_follow_the_policy_on_snapshot_and_binlog(sql: Sql, make_source: Any, policy: str) -> None:
    source = make_source(zero_date_policy=policy)
    start = source.current_position()
    table = write_zero_dates(sql)
    schema = source.table_schema(table)
    date_columns = [schema.column(name) for name in ("d", "dt", "ts", "nn")]
    if policy == "string":
        assert all(c.type.kind == Kind.STRING for c in date_columns)
        assert schema.column("dt").type.native == "datetime(3)"
    else:
        assert [c.type.kind for c in date_columns] == [Kind.DATE, Kind.DATETIME, Kind.TIMESTAMP, Kind.DATE]
    assert schema.column("nn").nullable is (policy == "null")

    for driver in drivers_available():
        reader = make_source(zero_date_policy=policy, driver=driver)
        rows = [r for chunk in reader.snapshot_chunks(schema, 10) for r in reader.read_chunk(schema, chunk)]
        assert sorted(rows, key=lambda r: r[0]) == ZERO_EXPECTED[policy], driver

    events = changes_since(source, start, table)
    inserts = [e.after for e in events if e.op == INSERT]
    assert inserts == ZERO_EXPECTED[policy]
    assert all(e.schema is not None and e.schema.columns == schema.columns for e in events if e.op == INSERT)


def test_zero_dates_fail_with_table_column_and_key(sql: Sql, make_source: Any) -> None:
    source = make_source(zero_date_policy="fail")
    start = source.current_position()
    table = write_zero_dates(sql)
    schema = source.table_schema(table)
    for driver in drivers_available():
        reader = make_source(zero_date_policy="fail", driver=driver)
        with pytest.raises(ZeroDateError) as info:
            for chunk in reader.snapshot_chunks(schema, 10):
                list(reader.read_chunk(schema, chunk))
        assert (info.value.table, info.value.column, info.value.key) == (table, "d", (1,))
        assert "zero_date_policy" in str(info.value) and "'null'" in str(info.value)
    with pytest.raises(ZeroDateError) as info:
        changes_since(source, start, table)
    assert (info.value.table, info.value.column, info.value.key) == (table, "d", (1,))
    assert info.value.text == "0000-00-00"


def test_pymysqlreplication_alone_cannot_tell_zero_dates_from_null(sql: Sql, mariadb: MariaDBServer,
                                                                 make_source: Any) -> None:
    """Why binlog_rows decodes rows itself: the library maps zero and partial-zero dates to None, like NULL,
    a zero TIMESTAMP to 1970-01-01 00:00:00 (naive), and loses the text '2024-00-15'."""
    start = make_source().current_position()
    write_zero_dates(sql)
    reader = BinLogStreamReader(
        connection_settings={"host": mariadb.host, "port": mariadb.port, "user": mariadb.user, "passwd": ""},
        server_id=999, log_file=start.file, log_pos=start.pos, resume_stream=True, blocking=False,
        only_events=[WriteRowsEvent], only_schemas=[sql.database])
    try:
        values = {row["values"]["id"]: row["values"] for ev in reader for row in ev.rows}
    finally:
        reader.close()
    assert values[1]["d"] is None and values[2]["d"] is None and values[4]["d"] is None  # zero, partial, NULL
    assert values[1]["dt"] is None and values[4]["dt"] is None
    assert values[1]["ts"] == DT(1970, 1, 1) and values[1]["ts"].tzinfo is None
    # Our stream keeps them apart (the 'string' policy shows exactly what was stored).
    ours = [e.after for e in changes_since(make_source(zero_date_policy="string"), start,
                                           TableId(sql.database, "zd")) if e.op == INSERT and e.after is not None]
    assert [r[1] for r in ours] == ["0000-00-00", "2024-00-15", "2024-02-29", None]
    assert ours[0][3] == "0000-00-00 00:00:00.000000"


def test_commit_follows_each_transaction(sql: Sql, make_source: Any) -> None:
    source = make_source()
    start = source.current_position()
    table = write_zero_dates(sql)
    events = changes_since(source, start, table)
    assert [e.op for e in events if e.op in (INSERT, COMMIT)][-8:] == [INSERT, COMMIT] * 4


def test_decimal_and_fractional_second_layouts_agree_between_snapshot_and_binlog(sql: Sql, make_source: Any) -> None:
    """Every binary layout (decimal digit groups, 1-3 byte fractions, negative TIME fractions) on random values."""
    rng = random.Random(7)
    decimals = [(9, 9), (18, 0), (20, 5), (30, 10), (19, 1), (10, 4)]
    fsps = range(7)
    columns = [f"d{p}_{s} decimal({p},{s})" for p, s in decimals]
    columns += [f"t{f} time({f})" for f in fsps] + [f"dt{f} datetime({f})" for f in fsps]
    columns += [f"ts{f} timestamp({f}) NULL" for f in fsps]
    sql(f"CREATE TABLE lay (id int primary key, {', '.join(columns)})")
    table = TableId(sql.database, "lay")
    source = make_source()
    start = source.current_position()
    sql("SET time_zone = '+00:00'")
    for row_id in range(60):
        values: list[Any] = [row_id]
        for p, s in decimals:
            digits = "".join(rng.choice("0123456789") for _ in range(p))
            text = (digits[:p - s] or "0") + ("." + digits[p - s:] if s else "")
            values.append(("-" if rng.random() < 0.5 else "") + text)
        for f in fsps:
            frac = "." + "".join(rng.choice("0123456789") for _ in range(f)) if f else ""
            sign = "-" if rng.random() < 0.5 else ""
            values.append(f"{sign}{rng.randint(0, 838)}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}{frac}")
        for _kind in ("dt", "ts"):
            for f in fsps:
                frac = "." + "".join(rng.choice("0123456789") for _ in range(f)) if f else ""
                year = rng.randint(1971, 2037)
                values.append(f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                              f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}{frac}")
        sql(f"INSERT INTO lay VALUES ({', '.join(['%s'] * len(values))})", values)
    schema = source.table_schema(table)
    snapshot = sorted(r for chunk in source.snapshot_chunks(schema, 1000) for r in source.read_chunk(schema, chunk))
    streamed = [e.after for e in changes_since(source, start, table) if e.op == INSERT]
    assert len(snapshot) == 60 and streamed == snapshot


def test_other_character_sets_decode_alike_on_both_paths(sql: Sql, make_source: Any) -> None:
    sql("CREATE TABLE cs (id int primary key, c char(5) CHARACTER SET latin1, v varchar(300) CHARACTER SET latin1, "
        "t text CHARACTER SET latin1, u varchar(10) CHARACTER SET utf8mb3, g varchar(10) CHARACTER SET gbk)")
    table = TableId(sql.database, "cs")
    source = make_source()
    start = source.current_position()
    expected = [(1, "\u00e9\u20ac", "caf\u00e9 " * 50, "\u00fc\u00df\u20ac", "\u4e2d\u00e9", "\u4e2d\u6587"),
                (2, "a", "", "", "", "")]
    for row in expected:
        sql("INSERT INTO cs VALUES (%s, %s, %s, %s, %s, %s)", row)
    schema = source.table_schema(table)
    assert schema.column("v").type.length == 300
    snapshot = sorted(r for chunk in source.snapshot_chunks(schema, 10) for r in source.read_chunk(schema, chunk))
    streamed = [e.after for e in changes_since(source, start, table) if e.op == INSERT]
    assert snapshot == expected and streamed == expected  # VARCHAR keeps its trailing space, CHAR does not
    assert all(e.schema is not None and e.schema.columns == schema.columns
               for e in changes_since(source, start, table) if e.op == INSERT)
