"""PostgreSQL column types to canonical types, and column values to canonical values.

Snapshot rows and change-stream tuples must give the same Python value for the same stored
value, or a replay would look like a change. So both go through psycopg's own text loaders,
picked by one "load type" per column:

- types psycopg loads to the canonical value (integers, numeric, floats, bool, bytea, date,
  time, timestamp, timestamptz, uuid) use their own loader; the snapshot selects them as they are;
- every other type is selected as ``column::text`` and streamed as the server's text output, and
  loaded as text: JSON as JSON text, enums as the label, bit(n) as the bit string then an int;
- interval, timetz, inet, arrays, ranges, geometric types and the like become canonical STRING
  holding PostgreSQL's text output, which any target can store and compare exactly.

A few values need work after loading: time -> timedelta (the canonical TIME is a duration), bit(n)
text -> int. Sessions run with TimeZone=UTC and DateStyle=ISO so both paths read the same text.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.abc import Transformer
from psycopg.pq import Format

from connectors.types import CanonicalType, Kind

TEXT_OID = 25
# Session settings both the snapshot and the replication connection use (see the module docstring).
SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3"

# Base type name -> (kind, bits) for types psycopg loads to the canonical value directly.
NATIVE: dict[str, tuple[Kind, int | None]] = {
    "int2": (Kind.INT, 16), "int4": (Kind.INT, 32), "int8": (Kind.INT, 64), "numeric": (Kind.DECIMAL, None),
    "float4": (Kind.FLOAT, 32), "float8": (Kind.FLOAT, 64), "bool": (Kind.BOOL, None),
    "bytea": (Kind.BYTES, None), "date": (Kind.DATE, None), "time": (Kind.TIME, None),
    "timestamp": (Kind.DATETIME, None), "timestamptz": (Kind.TIMESTAMP, None), "uuid": (Kind.UUID, None),
}
STRING_TYPES = frozenset({"varchar", "bpchar", "text", "name", "citext"})


@dataclass(frozen=True)
class PgType:
    """What the catalog says about a column's type (for a domain: its base type)."""

    oid: int  # the base type's oid
    name: str  # the base type's typname, e.g. "int4", "varchar"
    modifier: int  # atttypmod, -1 when none
    display: str  # format_type() text, e.g. "character varying(20)"
    type_kind: str  # pg_type.typtype: b base, e enum, d domain (resolved), r range, c composite...
    labels: tuple[str, ...] = ()  # enum labels in sort order

    @property
    def native(self) -> bool:
        return self.name in NATIVE

    @property
    def select_as_text(self) -> bool:
        """Whether a snapshot selects the column as column::text (the cast keeps the output text exactly)."""
        return not self.native and self.name not in STRING_TYPES  # bpchar::text would drop the padding

    @property
    def load_oid(self) -> int:
        """The type whose text loader reads this column's values."""
        return self.oid if self.native else TEXT_OID


def _fsp(modifier: int) -> int:
    return modifier if 0 <= modifier <= 6 else 6


def canonical(pg: PgType) -> CanonicalType:
    native = pg.display
    if pg.name in NATIVE:
        kind, bits = NATIVE[pg.name]
        if kind is Kind.DECIMAL:
            if pg.modifier < 4:
                return CanonicalType(Kind.DECIMAL, native=native)
            mod = pg.modifier - 4
            return CanonicalType(Kind.DECIMAL, precision=(mod >> 16) & 0xFFFF, scale=mod & 0xFFFF, native=native)
        if kind in (Kind.TIME, Kind.DATETIME, Kind.TIMESTAMP):
            return CanonicalType(kind, fsp=_fsp(pg.modifier), native=native)
        return CanonicalType(kind, bits=bits, native=native)
    if pg.name in STRING_TYPES:
        length = pg.modifier - 4 if pg.modifier >= 4 else None
        return CanonicalType(Kind.STRING, length=length, fixed=pg.name == "bpchar", native=native)
    if pg.name in ("json", "jsonb"):
        return CanonicalType(Kind.JSON, native=native)
    if pg.name == "bit" and 1 <= pg.modifier <= 64:
        return CanonicalType(Kind.BIT, length=pg.modifier, native=native)
    if pg.type_kind == "e":
        return CanonicalType(Kind.ENUM, values=pg.labels, native=native)
    # Everything else keeps PostgreSQL's exact text: interval, timetz, inet, money, xml, arrays, ranges...
    return CanonicalType(Kind.STRING, native=native)


Load = Callable[[bytes], Any]


def _time_to_delta(value: datetime.time) -> datetime.timedelta:
    return datetime.timedelta(hours=value.hour, minutes=value.minute, seconds=value.second,
                              microseconds=value.microsecond)


def _bits(value: str) -> int:
    return int(value, 2)


def fixup(pg: PgType) -> Callable[[Any], Any] | None:
    """What a value needs after psycopg loaded it (None for most columns)."""
    if pg.name == "time":
        return _time_to_delta
    if pg.name == "bit" and 1 <= pg.modifier <= 64:
        return _bits
    return None


def text_loader(transformer: Transformer, pg: PgType) -> Load:
    """bytes of the server's text output -> canonical value, the same as a snapshot read gives."""
    load = transformer.get_loader(pg.load_oid, Format.TEXT).load
    fix = fixup(pg)
    if fix is None:
        return load  # type: ignore[return-value]

    def load_fixed(data: bytes) -> Any:
        return fix(load(data))

    return load_fixed


_QUOTED = re.compile(r"^'((?:[^']|'')*)'(?:::[\w .\"()]+)?$", re.S)
_NUMBER = re.compile(r"^\(?(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\)?(?:::[\w .\"()]+)?$")


def default_value(expression: str | None, load: Load) -> Any:
    """A column default as a canonical value when it is a constant; None for expressions (now(), nextval)."""
    if expression is None:
        return None
    text = expression.strip()
    if text in ("true", "false"):
        return load(b"t" if text == "true" else b"f")
    match = _QUOTED.match(text) or _NUMBER.match(text)
    if match is None:
        return None
    try:
        return load(match.group(1).replace("''", "'").encode())
    except (ValueError, ArithmeticError, TypeError, psycopg.Error):  # text the loader refuses: not a constant
        return None
