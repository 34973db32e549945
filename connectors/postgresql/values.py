"""Canonical Python values to what binary COPY needs, and the checks that name a dirty value.

Most canonical values go to psycopg's C dumpers untouched (set_types picks the binary dumper by
the column's type). Three need help:

- JSON arrives as JSON text (str). psycopg's jsonb dumper would encode that str as a JSON
  string, so a raw dumper sends the text itself (jsonb's binary format is a version byte + text).
- BIT(n) arrives as an int; bit's binary format is the bit count plus the bits, left-aligned.
  The payload depends on n, so a per-column converter builds it and a pass-through dumper sends it.
- FLOAT 32: psycopg turns a double beyond real's range into infinity; a check refuses it instead.

Rows needing no conversion (most tables) go to write_row as they are, with no Python work per value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from psycopg.adapt import AdaptersMap, Dumper
from psycopg.pq import Format

from connectors.types import ColumnSchema, Kind

FLOAT32_MAX = 3.4028234663852886e38
BIT_OID = 1560

Convert = Callable[[Any], Any]
RowConvert = Callable[[Sequence[Any]], Sequence[Any]]


class RawJsonbBinaryDumper(Dumper):
    """JSON text (str) as jsonb, unchanged: version 1 followed by the UTF-8 text."""

    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + obj.encode()


class PreparedBitBinaryDumper(Dumper):
    """bit(n) payloads already built by bit_converter."""

    format = Format.BINARY
    oid = BIT_OID

    def dump(self, obj: Any) -> bytes:
        return bytes(obj)


def register_dumpers(adapters: AdaptersMap) -> None:
    """Register the by-oid dumpers COPY ... set_types() uses for jsonb and bit, on one connection only."""
    jsonb = adapters.types["jsonb"]
    assert jsonb is not None
    dumper = type("RawJsonbDumper", (RawJsonbBinaryDumper,), {"oid": jsonb.oid})
    adapters.register_dumper(None, dumper)
    adapters.register_dumper(None, PreparedBitBinaryDumper)


def bit_converter(length: int) -> Convert:
    """int -> binary bit(length) payload; a value that needs more bits is refused, not cut."""
    nbytes = (length + 7) // 8
    shift = nbytes * 8 - length
    header = length.to_bytes(4, "big")
    limit = 1 << length

    def convert(value: int) -> bytes:
        if not 0 <= value < limit:
            raise ValueError(f"{value} does not fit in bit({length})")
        return header + (value << shift).to_bytes(nbytes, "big")

    return convert


def bit_text_converter(length: int) -> Convert:
    """int -> the bit(length) string a query parameter carries ('0101')."""
    limit = 1 << length

    def convert(value: int) -> str:
        if not 0 <= value < limit:
            raise ValueError(f"{value} does not fit in bit({length})")
        return format(value, f"0{length}b")

    return convert


def float32_check(value: float) -> float:
    if -FLOAT32_MAX <= value <= FLOAT32_MAX or not math.isfinite(value):
        return value
    raise ValueError(f"{value!r} is outside the range of real (float32)")


def column_converter(column: ColumnSchema, *, binary: bool = True) -> Convert | None:
    """The per-value conversion a column needs before binary COPY (or as a text parameter), or None."""
    ct = column.type
    if ct.kind is Kind.BIT:
        return bit_converter(ct.length or 1) if binary else bit_text_converter(ct.length or 1)
    if ct.kind is Kind.FLOAT and ct.bits == 32:
        return float32_check
    return None


def row_converter(columns: Sequence[ColumnSchema], *, binary: bool = True) -> RowConvert | None:
    """A function converting a whole row, or None when every value goes to COPY as it is."""
    converters = [(index, convert) for index, column in enumerate(columns)
                  if (convert := column_converter(column, binary=binary)) is not None]
    if not converters:
        return None

    def convert_row(row: Sequence[Any]) -> Sequence[Any]:
        out = list(row)
        for index, convert in converters:
            value = out[index]
            if value is not None:
                out[index] = convert(value)
        return out

    return convert_row


TEXT_KINDS = frozenset({Kind.STRING, Kind.ENUM, Kind.SET, Kind.JSON})


def row_problem(columns: Sequence[ColumnSchema], row: Sequence[Any], *, check_not_null: bool = True
                ) -> tuple[str, str] | None:
    """(column, reason) for the first value PostgreSQL would reject that Python can see, else None.

    Used only after a bulk write failed, to name the row and column; the happy path never runs it.
    """
    for column, value in zip(columns, row, strict=False):
        if value is None:
            if check_not_null and not column.nullable:
                return column.name, "NULL in a NOT NULL column"
            continue
        kind = column.type.kind
        if kind in TEXT_KINDS and isinstance(value, str) and "\x00" in value:
            return column.name, ("contains a NUL character (\\x00 at position "
                                 f"{value.index(chr(0))}), which PostgreSQL text and jsonb cannot hold")
        convert = column_converter(column)
        if convert is not None:
            try:
                convert(value)
            except (ValueError, OverflowError, TypeError) as exc:
                return column.name, str(exc)
    return None
