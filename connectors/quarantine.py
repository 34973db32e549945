"""Dirty data: rows a target cannot hold, reported instead of being altered or dropped.

A sink that meets such a row (a NUL character in PostgreSQL text, a value out of the column's
range, invalid JSON, a duplicate key) never rewrites it. It either raises DirtyRowError, so the
transaction commits nothing and the pipeline fails with a message naming table, key and column,
or, when the caller passed an ``on_dirty`` callback, hands each such row over as a
QuarantinedRow and writes the rest of the batch. Which of the two happens is the task's policy,
decided by the pipeline, not by the sink.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import json
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from connectors.errors import ConnectorError
from connectors.keys import key_to_json
from connectors.types import ColumnSchema, Kind, TableSchema


@dataclass(frozen=True)
class QuarantinedRow:
    """One rejected row, JSON-safe, as the pipeline stores it in the quarantine.

    table is the source table ("database.name"), target the table it was written to; key is the
    row's key values (canonical, in key_columns order: connectors.keys.key_to_json stores them
    exactly); row maps column names to JSON-safe values (see jsonable); column is the offending
    column when known; position is where the row came from when the sink knows it (a snapshot
    chunk as {"chunk": ...}), else None for the pipeline to fill in. stage is "target" for a row
    the target rejected (row as written, after the mapping) or "transform" for a source row a
    mapping rule could not process (row as read).
    """

    table: str
    key: tuple[Any, ...]
    row: dict[str, Any]
    column: str | None
    error: str
    position: dict[str, Any] | None = None
    target: str = ""
    key_columns: tuple[str, ...] = ()
    stage: str = "target"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["key"] = key_to_json(self.key)
        data["key_columns"] = list(self.key_columns)
        return data


OnDirty = Callable[[QuarantinedRow], None]


class DirtyRowError(ConnectorError):
    """A row the target cannot hold; nothing of the transaction that met it was committed."""

    def __init__(self, rows: Sequence[QuarantinedRow]) -> None:
        if not rows:
            raise ValueError("DirtyRowError needs at least one row")
        first = rows[0]
        self.rows = list(rows)
        self.table = first.table
        self.key = first.key
        self.column = first.column
        self.reason = first.error
        where = f"column {first.column!r}" if first.column else "a column the target did not name"
        more = f" (and {len(rows) - 1} more row(s))" if len(rows) > 1 else ""
        super().__init__(
            f"table {first.table}: the target rejected the row with key {_key_text(first)}, {where}: "
            f"{first.error}{more}",
            hint="fix the value at the source, or set the task's dirty-data policy to quarantine such rows")


def _key_text(row: QuarantinedRow) -> str:
    names = row.key_columns or tuple(f"#{i + 1}" for i in range(len(row.key)))
    return "(" + ", ".join(f"{name}={value!r}" for name, value in zip(names, row.key, strict=False)) + ")"


def jsonable(value: Any) -> Any:
    """A JSON-safe form of a canonical value, readable by people and exact where JSON allows."""
    if isinstance(value, str) and "\x00" in value:
        # The very value a PostgreSQL target refuses; PostgreSQL metadata (jsonb) refuses it too.
        return {"$text_nul": value.split("\x00")}
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime.timedelta):
        return format_duration(value)
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return repr(value)


def format_duration(value: datetime.timedelta) -> str:
    """A TIME value as MySQL writes it: [-]HHH:MM:SS[.ffffff]."""
    micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    seconds, fraction = divmod(abs(micros), 1_000_000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    text = f"{sign}{hours:02d}:{minute:02d}:{second:02d}"
    return f"{text}.{fraction:06d}" if fraction else text


def quarantined(schema: TableSchema, row: Sequence[Any], column: str | None, error: str, *,
                target: str = "", position: dict[str, Any] | None = None, stage: str = "target") -> QuarantinedRow:
    """A QuarantinedRow for row (in schema column order); key values come from the row itself."""
    names = schema.column_names
    return QuarantinedRow(
        table=str(schema.table), key=tuple(row[i] for i in schema.key_indexes() if i < len(row)),
        row={name: jsonable(value) for name, value in zip(names, row, strict=False)},
        column=column, error=error, position=position, target=target, key_columns=schema.key_columns, stage=stage)


def from_jsonable(value: Any, column: ColumnSchema) -> Any:
    """The canonical value back from its jsonable form (for replaying an edited quarantined row).

    Raises ValueError naming the column when the text does not fit the column's type.
    """
    if value is None:
        return None
    kind = column.type.kind
    try:
        if isinstance(value, dict) and set(value) == {"$base64"}:
            return base64.b64decode(value["$base64"], validate=True)
        if isinstance(value, dict) and set(value) == {"$text_nul"}:
            return "\x00".join(str(piece) for piece in value["$text_nul"])
        if kind == Kind.DECIMAL:
            return decimal.Decimal(str(value))
        if kind == Kind.FLOAT:
            return float(value)
        if kind in (Kind.INT, Kind.BIT, Kind.YEAR):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError("not an integer")
            return int(value)
        if kind == Kind.BOOL:
            if isinstance(value, bool):
                return value
            if value in (0, 1):
                return bool(value)
            raise ValueError("not true or false")
        if kind == Kind.DATE and isinstance(value, str):
            return datetime.date.fromisoformat(value)
        if kind in (Kind.DATETIME, Kind.TIMESTAMP) and isinstance(value, str):
            parsed = datetime.datetime.fromisoformat(value)
            if kind == Kind.TIMESTAMP and parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.UTC)
            return parsed
        if kind == Kind.TIME and isinstance(value, str):
            return parse_duration(value)
        if kind == Kind.UUID:
            return uuid.UUID(str(value))
        if kind == Kind.JSON and not isinstance(value, str):
            return json.dumps(value)
    except (ValueError, TypeError, decimal.InvalidOperation, binascii.Error) as exc:
        raise ValueError(f"column {column.name!r} ({column.type.describe()}): {value!r} does not fit: {exc}") from None
    return value


def parse_duration(text: str) -> datetime.timedelta:
    """[-]HHH:MM:SS[.ffffff], as format_duration writes it."""
    sign = -1 if text.startswith("-") else 1
    hours, minutes, seconds = text.lstrip("-").split(":")
    whole, _, fraction = seconds.partition(".")
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return sign * datetime.timedelta(hours=int(hours), minutes=int(minutes), seconds=int(whole), microseconds=micros)
