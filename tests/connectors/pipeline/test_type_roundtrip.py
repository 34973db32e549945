"""Every MariaDB type through the whole pipeline, on both paths (snapshot and binlog) to both targets.

Rows 1..4 are copied by the snapshot; rows 101..104 are inserted while streaming (binlog insert
images) and rows 201..204, NULL everywhere at snapshot time, are updated to the same values while
streaming (binlog update after-images). All writes run under the session time zone +05:30, so a
TIMESTAMP must arrive as the same instant, not as the same wall-clock text.

The value read back from the target is compared with the value written at the source after the
normalisation in `normalise` (see the comments there); nothing else is tolerated.
"""

from __future__ import annotations

import datetime
import decimal
import json
import struct
from collections.abc import Callable
from typing import Any

from connectors.quarantine import format_duration
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql
from tests.connectors.pipeline.conftest import Run, Target, binlog_head

D = decimal.Decimal
UTC = datetime.UTC
SESSION_TZ = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
TD = datetime.timedelta

# (name, MariaDB type, kind used for writing and normalising, values of rows 1..4; row 3 is all NULL)
COLUMNS: list[tuple[str, str, str, list[Any]]] = [
    ("ti", "TINYINT", "int", [127, -128, None, 0]),
    ("tiu", "TINYINT UNSIGNED", "int", [255, 0, None, 1]),
    ("si", "SMALLINT", "int", [32767, -32768, None, -1]),
    ("siu", "SMALLINT UNSIGNED", "int", [65535, 0, None, 1]),
    ("mi", "MEDIUMINT", "int", [8388607, -8388608, None, -1]),
    ("miu", "MEDIUMINT UNSIGNED", "int", [16777215, 0, None, 1]),
    ("i", "INT", "int", [2147483647, -2147483648, None, -1]),
    ("iu", "INT UNSIGNED", "int", [4294967295, 0, None, 1]),
    ("bi", "BIGINT", "int", [9223372036854775807, -9223372036854775808, None, -1]),
    ("biu", "BIGINT UNSIGNED", "int", [18446744073709551615, 0, None, 9223372036854775808]),
    ("dec_big", "DECIMAL(65,30)", "decimal", [
        D("99999999999999999999999999999999999.999999999999999999999999999999"),
        D("-99999999999999999999999999999999999.000000000000000000000000000001"), None,
        D("0.000000000000000000000000000001")]),
    ("dec_money", "DECIMAL(12,2)", "decimal", [D("1234567890.12"), D("-0.01"), None, D("0.00")]),
    ("f32", "FLOAT", "float32", [3.14159, -3.4028234e38, None, 0.1]),
    ("f64", "DOUBLE", "float", [1.7976931348623157e308, -2.2250738585072014e-308, None, 0.1]),
    ("bit1", "BIT(1)", "bit", [1, 0, None, 1]),
    ("bit12", "BIT(12)", "bit", [4095, 0, None, 0b101000000001]),
    ("bit64", "BIT(64)", "bit", [2**64 - 1, 0, None, 1]),
    ("flag", "BOOL", "int", [1, 0, None, 2]),  # BOOL is TINYINT(1): 2 must come back as 2, not true
    ("tiny1", "TINYINT(1)", "int", [-1, 0, None, 2]),
    ("chr", "CHAR(10)", "char", ["abc", "", None, "ab  "]),
    ("vchr", "VARCHAR(100)", "str", ["emoji 😀 and 中文字符", "", None, "trailing  "]),
    ("txt", "TEXT", "str", ["😀" * 20 + " 日本語テキスト " + "x" * 2000, "", None, "tab\there\nnewline 'q' \\"]),
    ("bin8", "BINARY(8)", "binary8", [b"\x01\x02\x00\x00", b"", None, b"\x00" * 8]),
    ("vbin", "VARBINARY(20)", "bytes", [b"ab\x00\x00", b"", None, b"\x00"]),
    ("blb", "BLOB", "bytes", [bytes(range(256)) + b"\x00\x00\x00", b"", None, b"\xff\x00"]),
    ("en", "ENUM('small','medium','large')", "str", ["large", "small", None, "medium"]),
    ("st", "SET('a','b','c')", "str", ["a,c", "", None, "a,b,c"]),
    ("js", "JSON", "json", ['{"k": [1, 2.5, null, true], "u": "ünïcødé 😀", "n": {"deep": {}}}', "[]", None,
                            '"just a string"']),
    ("day", "DATE", "date", [datetime.date(9999, 12, 31), datetime.date(1000, 1, 1), None,
                             datetime.date(2024, 2, 29)]),
    ("span", "TIME(6)", "time", [TD(hours=838, minutes=59, seconds=59), -TD(hours=838, minutes=59, seconds=59),
                                 None, -TD(hours=1, minutes=2, seconds=3, microseconds=250000)]),
    ("span0", "TIME", "time", [TD(hours=100), -TD(seconds=1), None, TD(0)]),
    ("at", "DATETIME(6)", "datetime", [datetime.datetime(9999, 12, 31, 23, 59, 59, 999999),
                                       datetime.datetime(1000, 1, 1, 0, 0, 0, 1), None,
                                       datetime.datetime(2024, 3, 31, 2, 30, 0, 500000)]),
    ("stamp", "TIMESTAMP(6) NULL", "timestamp", [
        datetime.datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC),
        datetime.datetime(1970, 1, 1, 0, 0, 1, 1, tzinfo=UTC), None,
        datetime.datetime(2024, 3, 10, 12, 34, 56, 123456, tzinfo=SESSION_TZ)]),
    ("yr", "YEAR", "int", [2155, 1901, None, 2000]),
]
NAMES = [name for name, *_ in COLUMNS]


def literal(sql: Sql, kind: str, value: Any) -> str:
    """The value as SQL text, written so nothing but the server interprets it."""
    if value is None:
        return "NULL"
    if kind in ("int", "decimal"):
        return str(value)
    if kind in ("float", "float32"):
        return repr(value)
    if kind == "bit":
        return f"b'{value:b}'"
    if kind in ("bytes", "binary8"):
        return f"X'{value.hex()}'"
    if kind in ("str", "char", "json"):
        return str(sql.conn.escape(value))
    if kind == "time":
        return f"'{format_duration(value)}'"
    if kind == "date":
        return f"'{value.isoformat()}'"
    if kind == "datetime":
        return f"'{value.isoformat(' ')}'"
    if kind == "timestamp":  # the wall-clock text of the instant in the session's zone (+05:30)
        return f"'{value.astimezone(SESSION_TZ).replace(tzinfo=None).isoformat(' ')}'"
    raise AssertionError(kind)


def float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def normalise(kind: str, value: Any, *, read_back: bool) -> Any:
    """The documented normalisation applied to both sides before comparing."""
    if value is None:
        return None
    if kind == "int":
        return int(value)  # BIGINT UNSIGNED is numeric(20,0) in PostgreSQL: read back as Decimal
    if kind == "decimal":
        return D(value)  # by value: Decimal('1.50') == Decimal('1.5')
    if kind == "float32":
        return float32(value)  # FLOAT is binary32: compare its float32 value, not the decimal text written
    if kind == "bit":
        if isinstance(value, str):
            return int(value, 2)  # PostgreSQL bit(n) reads back as a bit string
        if isinstance(value, bytes):
            return int.from_bytes(value, "big")  # MySQL BIT reads back as big-endian bytes
        return int(value)
    if kind == "char" and not read_back:
        return value.rstrip(" ")  # MySQL CHAR drops trailing spaces: the source itself reads 'ab' for 'ab  '
    if kind == "binary8" and not read_back:
        return value.ljust(8, b"\x00")  # MySQL BINARY(8) pads with zero bytes: the source holds 8 bytes
    if kind in ("bytes", "binary8"):
        return bytes(value)
    if kind == "json":
        return json.loads(value)  # by parsed equality (key order, spacing and escapes may differ)
    if kind == "timestamp":
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # MySQL target read in a '+00:00' session: naive UTC text
        return value.astimezone(UTC)  # the same instant
    return value


def create_and_fill(src: Sql) -> None:
    src(f"CREATE TABLE types (id INT PRIMARY KEY, {', '.join(f'{n} {t}' for n, t, _, _ in COLUMNS)})")
    src("SET time_zone = '+05:30'")
    insert_rows(src, first_id=1)
    for i in range(4):
        src(f"INSERT INTO types (id) VALUES ({201 + i})")


def insert_rows(src: Sql, first_id: int) -> None:
    rows = []
    for index in range(4):
        values = [literal(src, kind, values[index]) for _, _, kind, values in COLUMNS]
        rows.append(f"({first_id + index}, {', '.join(values)})")
    src(f"INSERT INTO types (id, {', '.join(NAMES)}) VALUES {', '.join(rows)}")


def update_rows(src: Sql, first_id: int) -> None:
    src("BEGIN")
    for index in range(4):
        sets = ", ".join(f"{name} = {literal(src, kind, values[index])}" for name, _, kind, values in COLUMNS)
        src(f"UPDATE types SET {sets} WHERE id = {first_id + index}")
    src("COMMIT")


def read_target(target: Target) -> dict[int, tuple[Any, ...]]:
    if target.engine == "mysql":
        # The text protocol prints FLOAT with 6 digits; as DOUBLE it carries the exact binary32 value.
        select = ", ".join(f"CAST({n} AS DOUBLE)" if kind == "float32" else n for n, _, kind, _ in COLUMNS)
    else:
        # jsonb as its text, so both targets hand back JSON text to parse.
        select = ", ".join(f'"{n}"::text' if kind == "json" else f'"{n}"' for n, _, kind, _ in COLUMNS)
    return {row[0]: row[1:] for row in target.rows("types", f"id, {select}")}


def test_every_type_round_trips_through_snapshot_and_binlog(
        src: Sql, target: Target, make_spec: Any, runs: Callable[..., Run], mariadb: MariaDBServer) -> None:
    create_and_fill(src)
    run = runs(make_spec(target, ["types"], "full+incremental"))
    run.wait_streaming()
    insert_rows(src, first_id=101)
    update_rows(src, first_id=201)
    run.wait_caught_up(binlog_head(mariadb))
    rows = read_target(target)
    assert sorted(rows) == [1, 2, 3, 4, 101, 102, 103, 104, 201, 202, 203, 204]
    problems = []
    for path, first_id in (("snapshot", 1), ("binlog insert", 101), ("binlog update", 201)):
        for index in range(4):
            row = rows[first_id + index]
            for position, (name, _, kind, values) in enumerate(COLUMNS):
                want = normalise(kind, values[index], read_back=False)
                got = normalise(kind, row[position], read_back=True)
                if got != want or type(got) is not type(want):
                    problems.append(f"{path} row {first_id + index} {name}: wrote {values[index]!r}, "
                                    f"read back {row[position]!r}")
    assert not problems, "\n".join(problems)
    assert run.finish() == "stopped"
