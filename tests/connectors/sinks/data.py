"""Fixture data for the sink tests: a canonical schema with every kind, and rows at the edges."""

from __future__ import annotations

import datetime
import decimal
import json
import struct
import uuid
from typing import Any

from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema

D = decimal.Decimal
UTC = datetime.UTC
U64_MAX = 18446744073709551615
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_MIN_SUBNORMAL = 1.401298464324817e-45


def col(name: str, kind: Kind, *, nullable: bool = True, **fields: Any) -> ColumnSchema:
    return ColumnSchema(name, CanonicalType(kind, **fields), nullable)


ALL_TYPES_COLUMNS = (
    col("id", Kind.INT, bits=64, unsigned=True, nullable=False),
    col("i8", Kind.INT, bits=8),
    col("u8", Kind.INT, bits=8, unsigned=True),
    col("i16", Kind.INT, bits=16),
    col("u16", Kind.INT, bits=16, unsigned=True),
    col("i24", Kind.INT, bits=24),
    col("i32", Kind.INT, bits=32),
    col("u32", Kind.INT, bits=32, unsigned=True),
    col("i64", Kind.INT, bits=64),
    col("u64", Kind.INT, bits=64, unsigned=True),
    col("dec_big", Kind.DECIMAL, precision=65, scale=30),
    col("dec_money", Kind.DECIMAL, precision=12, scale=2),
    col("f32", Kind.FLOAT, bits=32),
    col("f64", Kind.FLOAT, bits=64),
    col("flag", Kind.BOOL),
    col("bits1", Kind.BIT, length=1),
    col("bits12", Kind.BIT, length=12),
    col("bits64", Kind.BIT, length=64),
    col("name", Kind.STRING, length=20),
    col("code", Kind.STRING, length=4, fixed=True),
    col("body", Kind.STRING),
    col("blob", Kind.BYTES),
    col("hash", Kind.BYTES, length=16, fixed=True),
    col("mood", Kind.ENUM, values=("happy", "sad", "it's \\ ok")),
    col("tags", Kind.SET, values=("a", "b", "c")),
    col("doc", Kind.JSON),
    col("day", Kind.DATE),
    col("span", Kind.TIME, fsp=6),
    col("at", Kind.DATETIME, fsp=6),
    col("at0", Kind.DATETIME),
    col("stamp", Kind.TIMESTAMP, fsp=6),
    col("yr", Kind.YEAR),
    col("uid", Kind.UUID),
)
ALL_TYPES = TableSchema(TableId("src", "all_types"), ALL_TYPES_COLUMNS, primary_key=("id",))

ROW_MAX = (
    U64_MAX, 127, 255, 32767, 65535, 8388607, 2147483647, 4294967295, 9223372036854775807, U64_MAX,
    D("99999999999999999999999999999999999.999999999999999999999999999999"), D("9999999999.99"),
    FLOAT32_MAX, 1.7976931348623157e308, True, 1, 4095, 2**64 - 1,
    "emoji 😀 and 中文字符", "ab  ", "x" * 70_000 + " trailing  ", bytes(range(256)) + b"\x00\x00\x00",
    b"\x00" * 15 + b"\x01", "it's \\ ok", "a,c",
    json.dumps({"nested": {"list": [1, 2.5, None, True], "text": "ünïcødé 😀"}, "empty": {}}),
    datetime.date(9999, 12, 31), datetime.timedelta(hours=838, minutes=59, seconds=59),
    datetime.datetime(2038, 1, 19, 3, 14, 7, 999999), datetime.datetime(9999, 12, 31, 23, 59, 59),
    datetime.datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC), 2155,
    uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"),
)
ROW_MIN = (
    0, -128, 0, -32768, 0, -8388608, -2147483648, 0, -9223372036854775808, 0,
    D("-99999999999999999999999999999999999.000000000000000000000000000001"), D("-0.01"),
    FLOAT32_MIN_SUBNORMAL, -2.2250738585072014e-308, False, 0, 0, 0,
    "", "", "", b"", b"\x00" * 16, "happy", "",
    json.dumps([]), datetime.date(1000, 1, 1), -datetime.timedelta(hours=838, minutes=59, seconds=59),
    datetime.datetime(1000, 1, 1, 0, 0, 0, 1), datetime.datetime(1000, 1, 1),
    datetime.datetime(1970, 1, 1, 0, 0, 1, 1, tzinfo=UTC), 1901, uuid.UUID(int=0),
)
ROW_NULLS = (1,) + (None,) * (len(ALL_TYPES_COLUMNS) - 1)
ALL_ROWS = [ROW_MIN, ROW_NULLS, ROW_MAX]


def float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def normalise(kind: Kind, value: Any) -> Any:
    """A read-back value in canonical form, so it compares equal to what was written."""
    if value is None:
        return None
    if kind in (Kind.INT, Kind.YEAR):
        return int(value)
    if kind is Kind.BIT:
        if isinstance(value, bytes):
            return int.from_bytes(value, "big")
        return int(value, 2) if isinstance(value, str) else int(value)
    if kind is Kind.BOOL:
        return bool(value)
    if kind is Kind.JSON:
        return json.loads(value) if isinstance(value, str) else value
    if kind is Kind.BYTES:
        return bytes(value)
    if kind is Kind.UUID:
        return uuid.UUID(str(value))
    if kind is Kind.TIMESTAMP and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # MySQL gives the instant as naive text in the '+00:00' session
    return value


def expected(kind: Kind, value: Any, *, bits: int | None = None) -> Any:
    """The canonical value as the comparison wants it (JSON parsed, float32 rounded)."""
    if value is None:
        return None
    if kind is Kind.JSON:
        return json.loads(value)
    if kind is Kind.FLOAT and bits == 32:
        return float32(value)
    return value


def compare_rows(schema: TableSchema, written: list[tuple[Any, ...]], read: list[tuple[Any, ...]]) -> None:
    """Assert every value read back equals the value written, column by column, with a clear message."""
    assert len(read) == len(written), f"{len(read)} rows read back, {len(written)} written"
    for row_in, row_out in zip(written, read, strict=True):
        for column, value_in, value_out in zip(schema.columns, row_in, row_out, strict=True):
            kind = column.type.kind
            got = normalise(kind, value_out)
            if kind is Kind.FLOAT and column.type.bits == 32 and got is not None:
                got = float32(got)
            want = expected(kind, value_in, bits=column.type.bits)
            assert got == want, f"column {column.name}: wrote {value_in!r}, read back {value_out!r}"


# A small table for merge, chunk and DDL tests.
ITEMS = TableSchema(TableId("src", "items"), (
    col("id", Kind.INT, bits=64, nullable=False),
    col("name", Kind.STRING, length=32),
    col("qty", Kind.INT, bits=32),
    col("price", Kind.DECIMAL, precision=12, scale=2),
), primary_key=("id",))


def item(i: int, name: str | None = None, qty: int | None = None) -> tuple[Any, ...]:
    return (i, name if name is not None else f"item {i}", qty if qty is not None else i * 10, D(i) / 4)


# A composite key, with identifiers that need quoting everywhere.
ODD = TableSchema(TableId("src", "odd table"), (
    col("tenant", Kind.STRING, length=16, nullable=False),
    col("Id%", Kind.INT, bits=32, nullable=False),
    col('we"ird', Kind.STRING, length=32),
    col("back`tick", Kind.INT, bits=32),
), primary_key=("tenant", "Id%"))
