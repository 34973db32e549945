"""Canonical Python values for comparing rows across engines.

A value read from either side becomes the form the type mapping promises to preserve, keyed by
the *source* column's canonical type:

    INT, YEAR, BIT, BOOL -> int           DECIMAL   -> Decimal quantized to the column's scale
    FLOAT               -> float (compared with a relative tolerance, see ``same_value``)
    STRING, ENUM, SET   -> str            BYTES     -> bytes
    JSON                -> JSON text with sorted keys and no spaces (so jsonb's reordering is equal)
    DATE                -> date           TIME      -> timedelta
    DATETIME            -> naive datetime (microseconds)
    TIMESTAMP           -> naive datetime in UTC (an aware value is converted first)
    UUID                -> lower-case text
    zero dates (MySQL '0000-00-00', arriving as text) -> what the zero_date_policy writes: None
    ('null', 'fail'), the epoch ('epoch'); under 'string' the column is already STRING.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.types import CanonicalType, ColumnSchema, Kind

DEFAULT_FLOAT_TOLERANCE = 1e-6  # relative: |a - b| <= tol * max(1, |a|, |b|)
EPOCH = dt.datetime(1970, 1, 1)

Normaliser = Callable[[Any], Any]


def _int(value: Any) -> Any:
    return int(value)


def _bit(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):  # MySQL BIT read as bytes
        return int.from_bytes(value, "big")
    if isinstance(value, str):  # PostgreSQL bit(n) as text: '0101'
        return int(value, 2) if value else 0
    return int(value)


def _decimal(scale: int | None) -> Normaliser:
    quantum = Decimal(1).scaleb(-(scale or 0))

    def convert(value: Any) -> Any:
        try:
            return Decimal(value).quantize(quantum)
        except InvalidOperation:
            return Decimal(value)
    return convert


def _text(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return str(value)


def _bytes(value: Any) -> Any:
    return bytes(value) if not isinstance(value, str) else value.encode("utf-8")


def json_canonical(value: Any) -> str:
    """JSON text or an already-parsed value -> one text per JSON value."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    parsed = json.loads(value) if isinstance(value, str) else value
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _zero_date(policy: str, kind: Kind) -> Any:
    if policy == "epoch":
        return EPOCH.date() if kind == Kind.DATE else EPOCH
    return None


def _date(policy: str) -> Normaliser:
    def convert(value: Any) -> Any:
        if isinstance(value, str):  # a zero date as MySQL shows it
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return _zero_date(policy, Kind.DATE)
        if isinstance(value, dt.datetime):
            return value.date()
        return value
    return convert


def _datetime(policy: str, utc: bool) -> Normaliser:
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                return _zero_date(policy, Kind.DATETIME)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None) if utc else value.replace(tzinfo=None)
        return value
    return convert


def _time(value: Any) -> Any:
    if isinstance(value, dt.time):
        return dt.timedelta(hours=value.hour, minutes=value.minute, seconds=value.second,
                            microseconds=value.microsecond)
    return value


def _uuid(value: Any) -> Any:
    return str(value).lower()


def _float(value: Any) -> Any:
    return float(value)


def normaliser(ctype: CanonicalType, zero_date_policy: str = "null") -> Normaliser:
    kind = ctype.kind
    if kind in (Kind.INT, Kind.YEAR, Kind.BOOL):
        return _int
    if kind == Kind.BIT:
        return _bit
    if kind == Kind.DECIMAL:
        return _decimal(ctype.scale)
    if kind == Kind.FLOAT:
        return _float
    if kind == Kind.JSON:
        return json_canonical
    if kind == Kind.BYTES:
        return _bytes
    if kind == Kind.DATE:
        return _date(zero_date_policy)
    if kind in (Kind.DATETIME, Kind.TIMESTAMP):
        return _datetime(zero_date_policy, utc=kind == Kind.TIMESTAMP)
    if kind == Kind.TIME:
        return _time
    if kind == Kind.UUID:
        return _uuid
    return _text


RowNormaliser = Callable[[Sequence[Any]], tuple[Any, ...]]


def row_normaliser(columns: Sequence[ColumnSchema], zero_date_policy: str = "null") -> RowNormaliser:
    """A function turning a row (values in columns' order) into its canonical tuple; NULL stays None."""
    functions = [normaliser(column.type, zero_date_policy) for column in columns]

    def convert(row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(None if value is None else function(value)
                     for function, value in zip(functions, row, strict=True))
    return convert


def same_value(a: Any, b: Any, tolerance: float) -> bool:
    """Equal canonical values; floats within the relative tolerance (NaN equals NaN)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        if math.isinf(fa) or math.isinf(fb):
            return fa == fb
        return abs(fa - fb) <= tolerance * max(1.0, abs(fa), abs(fb))
    return bool(a == b)


def hash_form(row: tuple[Any, ...], float_digits: int) -> tuple[Any, ...]:
    """The row as hashed by the worker: floats rounded so that values within tolerance mostly agree.

    A pair that rounds apart only costs a drill-down; the row comparison decides with the tolerance.
    """
    if not float_digits:
        return row
    return tuple(float(f"{v:.{float_digits}e}") if isinstance(v, float) and math.isfinite(v) else v for v in row)


def float_digits(tolerance: float) -> int:
    return max(1, int(-math.log10(tolerance)) - 1) if tolerance > 0 else 15
