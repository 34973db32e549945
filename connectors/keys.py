"""Primary-key values to and from JSON, self-describing, so saved chunk bounds restore exactly."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any


def value_to_json(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        # PostgreSQL's jsonb (the metadata database) cannot hold NUL; MySQL text can: keep the pieces.
        return {"text_nul": value.split("\x00")}
    if value is None or isinstance(value, (bool, int, str, float)):
        return value
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"seconds": value.total_seconds()}
    return {"text": str(value)}


def value_from_json(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((kind, text),) = value.items()
    if kind == "decimal":
        return Decimal(text)
    if kind == "bytes":
        return base64.b64decode(text)
    if kind == "datetime":
        return dt.datetime.fromisoformat(text)
    if kind == "date":
        return dt.date.fromisoformat(text)
    if kind == "seconds":
        return dt.timedelta(seconds=text)
    if kind == "text_nul":
        return "\x00".join(text)
    return text


def key_to_json(key: tuple[Any, ...] | None) -> list[Any] | None:
    return None if key is None else [value_to_json(v) for v in key]


def key_from_json(data: list[Any] | None) -> tuple[Any, ...] | None:
    return None if data is None else tuple(value_from_json(v) for v in data)
