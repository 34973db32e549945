"""MySQL/MariaDB types: COLUMN_TYPE text to canonical types, and driver values to canonical values.

Canonical values (what snapshot rows and change events carry):
INT, BIT, YEAR -> int; DECIMAL -> Decimal; FLOAT -> float (a FLOAT(32) column gives the shortest
decimal that round-trips its binary32 value, on both the snapshot and the binlog path); STRING,
ENUM, SET, JSON -> str (a SET as MySQL shows it: labels in definition order, comma-joined);
BYTES -> bytes; DATE -> date; TIME -> timedelta (negative and over 24 h allowed); DATETIME ->
naive datetime; TIMESTAMP -> aware datetime in UTC.

Zero dates ('0000-00-00', '2024-00-15', '0000-00-00 00:00:00', and year 0, which Python cannot
hold) follow the task's zero_date_policy:
    null   (default) the value becomes NULL and the column nullable;
    epoch  1970-01-01 / 1970-01-01 00:00:00 (UTC for TIMESTAMP);
    string every DATE, DATETIME and TIMESTAMP column becomes STRING, its values as MySQL shows them;
    fail   ZeroDateError naming table, column and row key.
"""

from __future__ import annotations

import datetime
import decimal
import re
import struct
from collections.abc import Callable, Sequence
from typing import Any

from connectors.errors import ConnectorError
from connectors.mysql.errors import ZERO_DATE_POLICIES
from connectors.types import CanonicalType, ColumnSchema, Kind

UTC = datetime.UTC
EPOCH_DATE = datetime.date(1970, 1, 1)
EPOCH_DATETIME = datetime.datetime(1970, 1, 1)
EPOCH_TIMESTAMP = datetime.datetime(1970, 1, 1, tzinfo=UTC)
DATE_KINDS = frozenset({Kind.DATE, Kind.DATETIME, Kind.TIMESTAMP})

_INT_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}
_TEXT_TYPES = {"tinytext", "text", "mediumtext", "longtext"}
_BLOB_TYPES = {"tinyblob", "blob", "mediumblob", "longblob"}
_ESCAPES = {"0": "\0", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "Z": "\x1a"}


class ZeroDate(str):
    """A zero date's text as the server sent it; only seen under the 'fail' policy, until reported."""

    __slots__ = ()


def zero_date_policy(options: dict[str, Any]) -> str:
    policy = str(options.get("zero_date_policy") or "null")
    if policy not in ZERO_DATE_POLICIES:
        raise ConnectorError(f"unknown zero_date_policy {policy!r}",
                             hint=f"use one of: {', '.join(ZERO_DATE_POLICIES)}")
    return policy


# -- COLUMN_TYPE parsing ------------------------------------------------------------------------------

def _split_type(text: str) -> tuple[str, str | None, str]:
    """'decimal(12,2) unsigned' -> ('decimal', '12,2', 'unsigned'); parentheses inside quotes are skipped."""
    text = text.strip()
    match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text)
    if match is None:
        raise ValueError(f"cannot parse column type {text!r}")
    base = match.group(0).lower()
    rest = text[match.end():].lstrip()
    if not rest.startswith("("):
        return base, None, rest.lower()
    quote = ""
    i = 1
    while i < len(rest):
        ch = rest[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                if i + 1 < len(rest) and rest[i + 1] == quote:
                    i += 2
                    continue
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == ")":
            return base, rest[1:i], rest[i + 1:].strip().lower()
        i += 1
    raise ValueError(f"unbalanced parentheses in column type {text!r}")


def parse_labels(args: str) -> tuple[str, ...]:
    """The labels of enum('a','it''s','x\\\\y'): quotes doubled or backslash-escaped, commas inside quotes."""
    labels: list[str] = []
    i = 0
    n = len(args)
    while i < n:
        while i < n and args[i] in " ,\t\n":
            i += 1
        if i >= n:
            break
        quote = args[i]
        if quote not in "'\"":
            raise ValueError(f"cannot parse labels {args!r}")
        i += 1
        out: list[str] = []
        while True:
            if i >= n:
                raise ValueError(f"unterminated label in {args!r}")
            ch = args[i]
            if ch == "\\" and i + 1 < n:
                nxt = args[i + 1]
                out.append(_ESCAPES.get(nxt, nxt))
                i += 2
            elif ch == quote:
                if i + 1 < n and args[i + 1] == quote:
                    out.append(quote)
                    i += 2
                else:
                    i += 1
                    break
            else:
                out.append(ch)
                i += 1
        labels.append("".join(out))
    return tuple(labels)


def _ints(args: str | None) -> list[int]:
    return [int(part) for part in args.split(",")] if args else []


def parse_column_type(column_type: str, *, is_json: bool = False) -> CanonicalType:
    """information_schema COLUMN_TYPE -> CanonicalType (before any zero-date policy); native keeps the text.

    is_json: MariaDB's JSON is LONGTEXT with a json_valid() check; the caller knows from CHECK_CONSTRAINTS.
    """
    native = column_type.strip()
    base, args, attrs = _split_type(native)
    unsigned = "unsigned" in attrs
    if base in _INT_BITS:
        return CanonicalType(Kind.INT, bits=_INT_BITS[base], unsigned=unsigned, native=native)
    if base in ("decimal", "numeric", "dec", "fixed"):
        numbers = _ints(args)
        precision = numbers[0] if numbers else 10
        scale = numbers[1] if len(numbers) > 1 else 0
        return CanonicalType(Kind.DECIMAL, precision=precision, scale=scale, native=native)
    if base == "float":
        return CanonicalType(Kind.FLOAT, bits=32, native=native)
    if base in ("double", "real"):
        return CanonicalType(Kind.FLOAT, bits=64, native=native)
    if base == "bit":
        numbers = _ints(args)
        return CanonicalType(Kind.BIT, length=numbers[0] if numbers else 1, native=native)
    if base in ("char", "varchar"):
        numbers = _ints(args)
        return CanonicalType(Kind.STRING, length=numbers[0] if numbers else 1, fixed=base == "char", native=native)
    if base in _TEXT_TYPES:
        return CanonicalType(Kind.JSON if is_json else Kind.STRING, native=native)
    if base == "json":
        return CanonicalType(Kind.JSON, native=native)
    if base in ("binary", "varbinary"):
        numbers = _ints(args)
        return CanonicalType(Kind.BYTES, length=numbers[0] if numbers else 1, fixed=base == "binary", native=native)
    if base in _BLOB_TYPES:
        return CanonicalType(Kind.BYTES, native=native)
    if base == "enum":
        return CanonicalType(Kind.ENUM, values=parse_labels(args or ""), native=native)
    if base == "set":
        return CanonicalType(Kind.SET, values=parse_labels(args or ""), native=native)
    if base == "date":
        return CanonicalType(Kind.DATE, native=native)
    if base in ("time", "datetime", "timestamp"):
        numbers = _ints(args)
        kind = {"time": Kind.TIME, "datetime": Kind.DATETIME, "timestamp": Kind.TIMESTAMP}[base]
        return CanonicalType(kind, fsp=numbers[0] if numbers else 0, native=native)
    if base == "year":
        return CanonicalType(Kind.YEAR, native=native)
    if base in ("bool", "boolean"):
        return CanonicalType(Kind.INT, bits=8, native=native)  # stored as tinyint(1): 2 must round-trip
    if base == "serial":
        return CanonicalType(Kind.INT, bits=64, unsigned=True, native=native)
    # Geometry, MariaDB's UUID/INET4/INET6 and anything newer: refused unless the task maps them.
    return CanonicalType(Kind.UNKNOWN, native=native)


def apply_zero_date_policy(column: ColumnSchema, policy: str) -> ColumnSchema:
    """The column as the task sees it: date columns become nullable ('null') or text ('string')."""
    kind = column.type.kind
    if kind not in DATE_KINDS:
        return column
    if policy == "null" and not column.nullable:
        return ColumnSchema(column.name, column.type, True, column.default)
    if policy == "string":
        ctype = column.type
        # Length of the text MySQL shows: 'YYYY-MM-DD', plus ' HH:MM:SS' and '.ffffff' per fsp.
        length = 10 if kind == Kind.DATE else 19 + (ctype.fsp + 1 if ctype.fsp else 0)
        return ColumnSchema(column.name, CanonicalType(Kind.STRING, length=length, native=ctype.native),
                            column.nullable, column.default)
    return column


_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BIT_LITERAL = re.compile(r"b'([01]*)'", re.IGNORECASE)


def canonical_default(column: ColumnSchema) -> ColumnSchema:
    """The column with its literal default as a canonical value of its kind (7, not '7'), when it is one.

    information_schema gives defaults as text. A sink writes a default into DDL only when it is a
    value of the column's kind (connectors.sql_ddl.default_fits), and an added column's default is
    what the rows already there hold at the source (MySQL logs no row for them). Expressions
    (CURRENT_TIMESTAMP, uuid()) and text that does not parse stay as they are, and so unused.
    TIMESTAMP defaults are shown in the reading session's time zone, so they are left as text too.
    """
    text = column.default
    if not isinstance(text, str):
        return column
    kind = column.type.kind
    value: Any = text
    try:
        if kind in (Kind.INT, Kind.YEAR) and _INTEGER.fullmatch(text):
            value = int(text)
        elif kind == Kind.DECIMAL and _NUMBER.fullmatch(text):
            value = decimal.Decimal(text)
        elif kind == Kind.FLOAT and _NUMBER.fullmatch(text):
            value = float(text)
        elif kind == Kind.BIT and (match := _BIT_LITERAL.fullmatch(text)):
            value = int(match.group(1) or "0", 2)
        elif kind == Kind.DATE:
            value = datetime.date.fromisoformat(text)
        elif kind == Kind.DATETIME:
            value = datetime.datetime.fromisoformat(text)
        elif kind == Kind.TIME and re.fullmatch(r"-?\d+:\d\d:\d\d(?:\.\d+)?", text):
            value = parse_time_text(text)
    except ValueError:  # a zero date, an invalid date: not a value of the kind
        return column
    if value is text:
        return column
    return ColumnSchema(column.name, column.type, column.nullable, value)


def native_kind(column: ColumnSchema) -> CanonicalType:
    """The column's type before the zero-date policy (a 'string' policy turns dates into STRING)."""
    if column.type.kind == Kind.STRING and column.type.native:
        base = column.type.native.split("(", 1)[0].strip().lower()
        if base in ("date", "datetime", "timestamp"):
            return parse_column_type(column.type.native)
    return column.type


# -- values ------------------------------------------------------------------------------------------

_F32 = struct.Struct("<f")


FLOAT32_MAX = 3.4028234663852886e38  # the largest finite binary32 value


def float32_rows(rows: list[tuple[Any, ...]], indexes: Sequence[int]) -> list[tuple[Any, ...]]:
    """rows with the FLOAT (binary32) values at indexes as float32_shortest gives them."""
    if not indexes:
        return rows
    fixed = []
    for row in rows:
        values = list(row)
        for i in indexes:
            if values[i] is not None:
                values[i] = float32_shortest(values[i])
        fixed.append(tuple(values))
    return fixed


def float32_shortest(value: float) -> float:
    """The shortest decimal that reads back as the same binary32 value (0.1f -> 0.1, not 0.10000000149).

    Near the top of the range the shortest text (3.4028235e38 for FLT_MAX) is, as a number, beyond
    binary32's range: a target checking the range (PostgreSQL real, MySQL FLOAT) refuses it, so
    there the exact value is kept.
    """
    packed = _F32.pack(value)
    for digits in range(6, 10):
        candidate = float(f"{value:.{digits}g}")
        if _F32.pack(candidate) == packed and abs(candidate) <= FLOAT32_MAX:
            return candidate
    return value


def parse_time_text(text: str) -> datetime.timedelta:
    """'-838:59:59.500000' -> timedelta; MySQL TIME is a signed duration up to 838 hours."""
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    clock, _, fraction = text.partition(".")
    hours, minutes, seconds = clock.split(":")
    micro = int((fraction + "000000")[:6]) if fraction else 0
    value = datetime.timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds), microseconds=micro)
    return -value if negative else value


def zero_date_value(kind: Kind, text: str, policy: str) -> Any:
    """What a zero date becomes under policy ('fail' keeps a ZeroDate marker for the caller to report)."""
    if policy == "null":
        return None
    if policy == "epoch":
        return EPOCH_DATE if kind == Kind.DATE else EPOCH_TIMESTAMP if kind == Kind.TIMESTAMP else EPOCH_DATETIME
    if policy == "string":
        return text
    return ZeroDate(text)


def text_converters(policy: str) -> dict[Kind, Callable[[str], Any]]:
    """Converters for date/time text from the server (session time_zone '+00:00'), by kind.

    They run inside the driver for every value, so valid dates take the C fast path (fromisoformat)
    and only a failed parse looks at the zero-date policy.
    """
    from_date = datetime.date.fromisoformat
    from_datetime = datetime.datetime.fromisoformat

    if policy == "string":
        return {Kind.DATE: str, Kind.DATETIME: str, Kind.TIMESTAMP: str, Kind.TIME: parse_time_text}

    def date_value(text: str) -> Any:
        try:
            return from_date(text)
        except ValueError:
            return zero_date_value(Kind.DATE, text, policy)

    def datetime_value(text: str) -> Any:
        try:
            return from_datetime(text)
        except ValueError:
            return zero_date_value(Kind.DATETIME, text, policy)

    def timestamp_value(text: str) -> Any:
        try:
            return from_datetime(text).replace(tzinfo=UTC)
        except ValueError:
            return zero_date_value(Kind.TIMESTAMP, text, policy)

    return {Kind.DATE: date_value, Kind.DATETIME: datetime_value, Kind.TIMESTAMP: timestamp_value,
            Kind.TIME: parse_time_text}


def bit_value(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def format_date(year: int, month: int, day: int) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}"


def format_datetime(year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int,
                    fsp: int) -> str:
    """As MySQL shows a DATETIME/TIMESTAMP of fsp fractional digits."""
    text = f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"
    if fsp:
        text += "." + f"{micro:06d}"[:fsp]
    return text
