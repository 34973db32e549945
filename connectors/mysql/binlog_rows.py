"""Decoding binlog row images ourselves, from the TABLE_MAP layout, straight into canonical tuples.

pymysqlreplication 1.0.17 decodes rows into dicts and loses information on the way: zero and
partial-zero DATE/DATETIME values become None (indistinguishable from NULL, and '2024-00-15' cannot
be rendered back), a zero TIMESTAMP becomes 1970-01-01 00:00:00, TIMESTAMP values are naive, YEAR
0000 becomes 1900, an empty SET becomes None and a SET a Python set, BIT a string of '0'/'1'. It also
rebuilds every TABLE_MAP's column metadata per event, which costs more than the row itself.

So the stream lets the library frame events and parse each table id's TABLE_MAP once, and this
module decodes the row bytes with one precompiled decoder per column: the layout comes from the
TABLE_MAP (binlog_row_metadata=FULL gives names, signedness, charsets and enum/set labels), the
value conversion from the column's canonical type and the zero-date policy.
"""

from __future__ import annotations

import datetime
import decimal
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pymysqlreplication.constants import FIELD_TYPE
from pymysqlreplication.json_binary import parse_json

from connectors.errors import ConnectorError
from connectors.mysql.errors import ZeroDateError
from connectors.mysql.types import (
    EPOCH_TIMESTAMP,
    ZeroDate,
    float32_shortest,
    format_date,
    format_datetime,
    zero_date_value,
)
from connectors.types import CanonicalType, Kind, TableId, TableSchema

Decoder = Callable[[bytes, int], tuple[Any, int]]

# Bytes per character, to turn TABLE_MAP byte lengths back into CHAR/VARCHAR lengths.
MBMAXLEN = {"utf8mb4": 4, "utf8mb3": 3, "utf8": 3, "ucs2": 2, "utf16": 4, "utf16le": 4, "utf32": 4,
            "gbk": 2, "big5": 2, "sjis": 2, "cp932": 2, "ujis": 3, "eucjpms": 3, "euckr": 2, "gb2312": 2,
            "gb18030": 4}
# MySQL charset name -> Python codec, where the names differ.
CODECS = {"utf8mb4": "utf-8", "utf8mb3": "utf-8", "utf8": "utf-8", "latin1": "cp1252", "ascii": "ascii",
          "binary": "", "ucs2": "utf-16-be", "utf16": "utf-16-be", "utf16le": "utf-16-le", "utf32": "utf-32-be",
          "cp1250": "cp1250", "cp1251": "cp1251", "cp1256": "cp1256", "cp1257": "cp1257", "greek": "iso8859-7",
          "hebrew": "iso8859-8", "latin2": "iso8859-2", "latin5": "iso8859-9", "latin7": "iso8859-13",
          "koi8r": "koi8-r", "koi8u": "koi8-u", "gbk": "gbk", "big5": "big5", "sjis": "shift_jis",
          "cp932": "cp932", "ujis": "euc_jp", "eucjpms": "euc_jp", "euckr": "euc_kr", "gb2312": "gb2312",
          "gb18030": "gb18030", "cp850": "cp850", "cp852": "cp852", "cp866": "cp866", "macroman": "mac_roman",
          "tis620": "tis_620", "armscii8": "latin-1", "swe7": "latin-1", "dec8": "latin-1", "hp8": "latin-1",
          "keybcs2": "latin-1", "macce": "mac_latin2", "geostd8": "latin-1", "cp1255": "cp1255"}

_INT_TYPES = {FIELD_TYPE.TINY: 8, FIELD_TYPE.SHORT: 16, FIELD_TYPE.INT24: 24, FIELD_TYPE.LONG: 32,
              FIELD_TYPE.LONGLONG: 64}
_STRING_TYPES = (FIELD_TYPE.VARCHAR, FIELD_TYPE.VAR_STRING, FIELD_TYPE.STRING)
_BLOB_TYPES = (FIELD_TYPE.BLOB, FIELD_TYPE.TINY_BLOB, FIELD_TYPE.MEDIUM_BLOB, FIELD_TYPE.LONG_BLOB)
_BLOB_NAMES = {1: "tiny", 2: "", 3: "medium", 4: "long"}


@dataclass(frozen=True)
class BinlogColumn:
    """One column as a TABLE_MAP event describes it."""

    name: str
    type_code: int
    nullable: bool = True
    unsigned: bool = False
    max_length: int = 0  # VARCHAR/CHAR/BINARY: bytes
    length_size: int = 0  # BLOB/TEXT/JSON/GEOMETRY: bytes of the length prefix
    precision: int = 0
    scale: int = 0
    fsp: int = 0
    bits: int = 0  # BIT
    size: int = 0  # ENUM/SET storage bytes; FLOAT/DOUBLE
    labels: tuple[str, ...] = ()  # ENUM/SET
    charset: str = ""  # MySQL charset name: utf8mb4, latin1, binary, ...

    @property
    def binary(self) -> bool:
        return self.charset == "binary"

    @property
    def codec(self) -> str:
        return CODECS.get(self.charset, "utf-8")


def columns_from_table_map(event: Any) -> tuple[list[BinlogColumn], tuple[str, ...]]:
    """The columns and primary key of a pymysqlreplication TableMapEvent."""
    nullable_bits = int.from_bytes(bytes(event.null_bitmask), "little")
    columns: list[BinlogColumn] = []
    for index, col in enumerate(event.columns):
        code = col.type
        charset = ""
        collation = getattr(col, "collation_name", None)
        if collation:
            charset = "binary" if collation == "binary" else collation.split("_", 1)[0]
        elif code in _STRING_TYPES or code in _BLOB_TYPES:
            charset = "binary" if getattr(col, "character_set_name", None) == "binary" else "utf8mb4"
        labels: tuple[str, ...] = ()
        if code == FIELD_TYPE.ENUM and col.enum_values:
            labels = tuple(col.enum_values[1:])  # the library puts '' (the invalid value) first
        elif code == FIELD_TYPE.SET and col.set_values:
            labels = tuple(col.set_values)
        name = col.name
        if not name:
            raise ConnectorError(
                f"the binlog has no column names for {event.schema}.{event.table}",
                hint="Set binlog_row_metadata=FULL on the server (MySQL 8.0.14+, MariaDB 10.5+) and restart "
                     "the task from a new snapshot.")
        columns.append(BinlogColumn(
            name=name, type_code=code, nullable=bool(nullable_bits >> index & 1), unsigned=bool(col.unsigned),
            max_length=getattr(col, "max_length", 0) or 0, length_size=getattr(col, "length_size", 0) or 0,
            precision=getattr(col, "precision", 0) or 0, scale=getattr(col, "decimals", 0) or 0,
            fsp=getattr(col, "fsp", 0) or 0, bits=getattr(col, "bits", 0) or 0, size=getattr(col, "size", 0) or 0,
            labels=labels, charset=charset))
    metadata = getattr(event, "optional_metadata", None)
    key_indexes: list[int] = list(getattr(metadata, "simple_primary_key_list", None) or [])
    if not key_indexes and metadata is not None and getattr(metadata, "primary_keys_with_prefix", None):
        key_indexes = list(metadata.primary_keys_with_prefix)
    primary_key = tuple(columns[i].name for i in key_indexes if i < len(columns))
    return columns, primary_key


def binlog_type(col: BinlogColumn) -> CanonicalType:
    """The canonical type (before the zero-date policy) that a TABLE_MAP column describes."""
    code = col.type_code
    if code in _INT_TYPES:
        bits = _INT_TYPES[code]
        names = {8: "tinyint", 16: "smallint", 24: "mediumint", 32: "int", 64: "bigint"}
        return CanonicalType(Kind.INT, bits=bits, unsigned=col.unsigned,
                             native=names[bits] + (" unsigned" if col.unsigned else ""))
    if code in (FIELD_TYPE.NEWDECIMAL, FIELD_TYPE.DECIMAL):
        return CanonicalType(Kind.DECIMAL, precision=col.precision, scale=col.scale,
                             native=f"decimal({col.precision},{col.scale})")
    if code == FIELD_TYPE.FLOAT:
        return CanonicalType(Kind.FLOAT, bits=32, native="float")
    if code == FIELD_TYPE.DOUBLE:
        return CanonicalType(Kind.FLOAT, bits=64, native="double")
    if code == FIELD_TYPE.BIT:
        return CanonicalType(Kind.BIT, length=col.bits, native=f"bit({col.bits})")
    if code == FIELD_TYPE.ENUM:
        return CanonicalType(Kind.ENUM, values=col.labels, native="enum")
    if code == FIELD_TYPE.SET:
        return CanonicalType(Kind.SET, values=col.labels, native="set")
    if code in _STRING_TYPES:
        fixed = code == FIELD_TYPE.STRING
        if col.binary:
            return CanonicalType(Kind.BYTES, length=col.max_length, fixed=fixed,
                                 native=f"{'binary' if fixed else 'varbinary'}({col.max_length})")
        per_char = MBMAXLEN.get(col.charset, 1)
        length = col.max_length // per_char
        return CanonicalType(Kind.STRING, length=length, fixed=fixed,
                             native=f"{'char' if fixed else 'varchar'}({length})")
    if code in _BLOB_TYPES:
        prefix = _BLOB_NAMES.get(col.length_size, "long")
        if col.binary:
            return CanonicalType(Kind.BYTES, native=f"{prefix}blob")
        return CanonicalType(Kind.STRING, native=f"{prefix}text")
    if code == FIELD_TYPE.JSON:
        return CanonicalType(Kind.JSON, native="json")
    if code in (FIELD_TYPE.DATE, FIELD_TYPE.NEWDATE):
        return CanonicalType(Kind.DATE, native="date")
    if code in (FIELD_TYPE.TIME, FIELD_TYPE.TIME2):
        return CanonicalType(Kind.TIME, fsp=col.fsp, native=f"time({col.fsp})" if col.fsp else "time")
    if code in (FIELD_TYPE.DATETIME, FIELD_TYPE.DATETIME2):
        return CanonicalType(Kind.DATETIME, fsp=col.fsp, native=f"datetime({col.fsp})" if col.fsp else "datetime")
    if code in (FIELD_TYPE.TIMESTAMP, FIELD_TYPE.TIMESTAMP2):
        return CanonicalType(Kind.TIMESTAMP, fsp=col.fsp,
                             native=f"timestamp({col.fsp})" if col.fsp else "timestamp")
    if code == FIELD_TYPE.YEAR:
        return CanonicalType(Kind.YEAR, native="year")
    return CanonicalType(Kind.UNKNOWN, native="geometry" if code == FIELD_TYPE.GEOMETRY else f"type {code}")


def compatible(from_binlog: CanonicalType, known: CanonicalType) -> bool:
    """Does a column type read from information_schema describe this TABLE_MAP column?"""
    kind = from_binlog.kind
    if known.kind == Kind.UNKNOWN:
        return True  # MariaDB UUID/INET6, geometry...: information_schema knows better than the storage type
    if kind != known.kind:
        # MariaDB's JSON is LONGTEXT in the binlog; information_schema knows it from the check constraint.
        return kind == Kind.STRING and known.kind == Kind.JSON and from_binlog.length is None
    if kind == Kind.INT:
        return from_binlog.bits == known.bits and from_binlog.unsigned == known.unsigned
    if kind == Kind.DECIMAL:
        return (from_binlog.precision, from_binlog.scale) == (known.precision, known.scale)
    if kind == Kind.FLOAT:
        return from_binlog.bits == known.bits
    if kind == Kind.BIT:
        return from_binlog.length == known.length
    if kind in (Kind.STRING, Kind.BYTES):
        if from_binlog.fixed != known.fixed:
            return False
        return from_binlog.length is None or known.length is None or from_binlog.length == known.length
    if kind in (Kind.ENUM, Kind.SET):
        return from_binlog.values == known.values
    if kind in (Kind.TIME, Kind.DATETIME, Kind.TIMESTAMP):
        return from_binlog.fsp == known.fsp
    return True


# -- per-column decoders -------------------------------------------------------------------------------

def _fixed(fmt: str) -> Decoder:
    layout = struct.Struct(fmt)
    size = layout.size
    unpack_from = layout.unpack_from

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        return unpack_from(data, pos)[0], pos + size
    return decode


def _int24(signed: bool) -> Decoder:
    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        value = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
        if signed and value & 0x800000:
            value -= 0x1000000
        return value, pos + 3
    return decode


def _float32() -> Decoder:
    unpack_from = struct.Struct("<f").unpack_from

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        return float32_shortest(unpack_from(data, pos)[0]), pos + 4
    return decode


_DIG2BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)


def _decimal(precision: int, scale: int) -> Decoder:
    """MySQL's binary DECIMAL: base-10^9 groups, big-endian, sign in the top bit, negatives inverted."""
    integral = precision - scale
    full_int, rest_int = divmod(integral, 9)
    full_frac, rest_frac = divmod(scale, 9)
    groups_int = ([(_DIG2BYTES[rest_int], rest_int)] if rest_int else []) + [(4, 9)] * full_int
    groups_frac = [(4, 9)] * full_frac + ([(_DIG2BYTES[rest_frac], rest_frac)] if rest_frac else [])
    size = sum(n for n, _ in groups_int) + sum(n for n, _ in groups_frac)
    sign_bit = 1 << (size * 8 - 1)
    all_bits = (1 << (size * 8)) - 1
    # Right to left: (bit mask, bit width, decimal multiplier step) per group.
    frac_steps = [((1 << 8 * n) - 1, 8 * n, 10 ** d) for n, d in reversed(groups_frac)]
    int_steps = [((1 << 8 * n) - 1, 8 * n, 10 ** d) for n, d in reversed(groups_int)]
    make = decimal.Decimal

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        raw = int.from_bytes(data[pos:pos + size], "big")
        negative = not raw & sign_bit
        raw ^= sign_bit
        if negative:
            raw ^= all_bits
        frac = 0
        scale_mult = 1
        for mask, width, step in frac_steps:
            frac += (raw & mask) * scale_mult
            raw >>= width
            scale_mult *= step
        whole = 0
        mult = 1
        for mask, width, step in int_steps:
            whole += (raw & mask) * mult
            raw >>= width
            mult *= step
        sign = "-" if negative else ""
        text = f"{sign}{whole}.{frac:0{scale}d}" if scale else f"{sign}{whole}"
        return make(text), pos + size
    return decode


def _prefixed(prefix: int, codec: str, column: str, *, strip: bool = False, pad_to: int = 0) -> Decoder:
    """A value with a little-endian length prefix of prefix bytes; decoded with codec ('' for bytes)."""
    def text(raw: bytes) -> str:
        try:
            value = raw.decode(codec)
        except UnicodeDecodeError as exc:
            if codec != "cp1252":
                raise ConnectorError(f"column {column!r} holds bytes that are not valid {codec}: {exc}",
                                     hint="Fix the value at the source, or map the column as binary.") from exc
            value = raw.decode("latin-1")  # MySQL's latin1 keeps the 5 bytes cp1252 leaves undefined
        return value.rstrip(" ") if strip else value

    if prefix == 1:
        def length_at(data: bytes, pos: int) -> int:
            return data[pos]
    elif prefix == 2:
        def length_at(data: bytes, pos: int) -> int:
            return data[pos] | data[pos + 1] << 8
    else:
        def length_at(data: bytes, pos: int) -> int:
            return int.from_bytes(data[pos:pos + prefix], "little")

    if codec and not strip and codec != "cp1252":
        def decode_plain(data: bytes, pos: int) -> tuple[Any, int]:
            # The common case (utf8mb4 VARCHAR/TEXT), kept to one call: decode errors are rare.
            start = pos + prefix
            end = start + length_at(data, pos)
            try:
                return data[start:end].decode(codec), end
            except UnicodeDecodeError:
                return text(data[start:end]), end
        return decode_plain

    if codec:
        def decode_text(data: bytes, pos: int) -> tuple[Any, int]:
            start = pos + prefix
            end = start + length_at(data, pos)
            return text(data[start:end]), end
        return decode_text

    def decode_bytes(data: bytes, pos: int) -> tuple[Any, int]:
        start = pos + prefix
        end = start + length_at(data, pos)
        value = data[start:end]
        if pad_to and len(value) < pad_to:
            value += b"\0" * (pad_to - len(value))  # BINARY(n) is logged without its trailing zero bytes
        return value, end
    return decode_bytes


def _enum(labels: tuple[str, ...], size: int) -> Decoder:
    table = ("", *labels)  # index 0 is the empty string MySQL stores for an invalid value

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        index = data[pos] if size == 1 else data[pos] | data[pos + 1] << 8
        return (table[index] if index < len(table) else ""), pos + size
    return decode


def _set(labels: tuple[str, ...], size: int) -> Decoder:
    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        mask = int.from_bytes(data[pos:pos + size], "little")
        return ",".join(label for i, label in enumerate(labels) if mask >> i & 1), pos + size
    return decode


def _bit(bits: int) -> Decoder:
    size = (bits + 7) // 8

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        return int.from_bytes(data[pos:pos + size], "big"), pos + size
    return decode


def _year() -> Decoder:
    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        value = data[pos]
        return (1900 + value if value else 0), pos + 1
    return decode


def _frac_reader(fsp: int) -> tuple[int, int]:
    """(bytes, multiplier to microseconds) of a temporal value's fractional part."""
    if fsp in (1, 2):
        return 1, 10000
    if fsp in (3, 4):
        return 2, 100
    if fsp in (5, 6):
        return 3, 1
    return 0, 0


def _date(policy: str) -> Decoder:
    make = datetime.date
    as_text = policy == "string"

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        value = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
        day = value & 31
        month = value >> 5 & 15
        year = value >> 9
        if as_text:
            return format_date(year, month, day), pos + 3
        if year and month and day:
            try:
                return make(year, month, day), pos + 3
            except ValueError:
                pass  # an invalid date (ALLOW_INVALID_DATES): handled like a zero date below
        return zero_date_value(Kind.DATE, format_date(year, month, day), policy), pos + 3
    return decode


def _datetime2(fsp: int, policy: str) -> Decoder:
    frac_bytes, frac_mult = _frac_reader(fsp)
    size = 5 + frac_bytes
    make = datetime.datetime
    as_text = policy == "string"

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        packed = int.from_bytes(data[pos:pos + 5], "big") - 0x8000000000
        micro = int.from_bytes(data[pos + 5:pos + size], "big") * frac_mult if frac_bytes else 0
        ymd = packed >> 17
        year_month = ymd >> 5
        year, month = divmod(year_month, 13)
        day = ymd & 31
        hms = packed & 0x1FFFF
        hour, minute, second = hms >> 12, hms >> 6 & 63, hms & 63
        if as_text:
            return format_datetime(year, month, day, hour, minute, second, micro, fsp), pos + size
        if year and month and day:
            try:
                return make(year, month, day, hour, minute, second, micro), pos + size
            except ValueError:
                pass  # invalid date: a zero date for the policy
        text = format_datetime(year, month, day, hour, minute, second, micro, fsp)
        return zero_date_value(Kind.DATETIME, text, policy), pos + size
    return decode


def _timestamp2(fsp: int, policy: str) -> Decoder:
    frac_bytes, frac_mult = _frac_reader(fsp)
    size = 4 + frac_bytes
    delta = datetime.timedelta
    as_text = policy == "string"
    zero_text = format_datetime(0, 0, 0, 0, 0, 0, 0, fsp)

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        seconds = int.from_bytes(data[pos:pos + 4], "big")
        micro = int.from_bytes(data[pos + 4:pos + size], "big") * frac_mult if frac_bytes else 0
        if not seconds and not micro:  # 0 is the zero timestamp: 1970-01-01 00:00:00 is not storable
            return (zero_text if as_text else zero_date_value(Kind.TIMESTAMP, zero_text, policy)), pos + size
        value = EPOCH_TIMESTAMP + delta(seconds=seconds, microseconds=micro)
        if as_text:
            return format_datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                                   micro, fsp), pos + size
        return value, pos + size
    return decode


def _time2(fsp: int) -> Decoder:
    size = 3 + _frac_reader(fsp)[0]
    delta = datetime.timedelta

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        if fsp >= 5:
            packed = int.from_bytes(data[pos:pos + 6], "big") - 0x800000000000
        else:
            whole = int.from_bytes(data[pos:pos + 3], "big") - 0x800000
            if fsp >= 3:
                frac = int.from_bytes(data[pos + 3:pos + 5], "big")
                if whole < 0 and frac:  # negatives store the fraction reversed, for binary sorting
                    whole += 1
                    frac -= 0x10000
                packed = (whole << 24) + frac * 100
            elif fsp >= 1:
                frac = data[pos + 3]
                if whole < 0 and frac:
                    whole += 1
                    frac -= 0x100
                packed = (whole << 24) + frac * 10000
            else:
                packed = whole << 24
        negative = packed < 0
        if negative:
            packed = -packed
        hms = packed >> 24
        value = delta(hours=hms >> 12 & 0x3FF, minutes=hms >> 6 & 63, seconds=hms & 63,
                      microseconds=packed & 0xFFFFFF)
        return (-value if negative else value), pos + size
    return decode


def _old_time() -> Decoder:
    delta = datetime.timedelta

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        value = int.from_bytes(data[pos:pos + 3], "little", signed=True)
        negative = value < 0
        value = abs(value)
        result = delta(hours=value // 10000, minutes=value // 100 % 100, seconds=value % 100)
        return (-result if negative else result), pos + 3
    return decode


def _old_datetime(policy: str) -> Decoder:
    make = datetime.datetime
    as_text = policy == "string"

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        value = int.from_bytes(data[pos:pos + 8], "little")
        date_part, time_part = divmod(value, 1000000)
        year, month, day = date_part // 10000, date_part // 100 % 100, date_part % 100
        hour, minute, second = time_part // 10000, time_part // 100 % 100, time_part % 100
        if as_text:
            return format_datetime(year, month, day, hour, minute, second, 0, 0), pos + 8
        if year and month and day:
            try:
                return make(year, month, day, hour, minute, second), pos + 8
            except ValueError:
                pass
        text = format_datetime(year, month, day, hour, minute, second, 0, 0)
        return zero_date_value(Kind.DATETIME, text, policy), pos + 8
    return decode


def _old_timestamp(policy: str) -> Decoder:
    inner = _timestamp2(0, policy)

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        # The pre-5.6 TIMESTAMP is little-endian seconds; re-pack it for the TIMESTAMP2 path.
        value, _ = inner(data[pos:pos + 4][::-1], 0)
        return value, pos + 4
    return decode


def _json_text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {_json_text(k): _json_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_text(v) for v in value]
    if isinstance(value, decimal.Decimal | datetime.date | datetime.time | datetime.timedelta):
        return str(value)
    return value


def _mysql_json(length_size: int) -> Decoder:
    """MySQL's binary JSON, rendered as MySQL's JSON text (', ' and ': ' separators)."""
    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        start = pos + length_size
        end = start + int.from_bytes(data[pos:start], "little")
        if end == start:
            return "null", end
        value = _json_text(parse_json(data[start], data[start + 1:end]))
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": ")), end
    return decode


def make_decoder(col: BinlogColumn, target: CanonicalType, policy: str) -> Decoder:
    """The decoder of one TABLE_MAP column, converting to target's canonical values under the policy."""
    code = col.type_code
    signed = not col.unsigned
    if code == FIELD_TYPE.TINY:
        return _fixed("<b" if signed else "<B")
    if code == FIELD_TYPE.SHORT:
        return _fixed("<h" if signed else "<H")
    if code == FIELD_TYPE.INT24:
        return _int24(signed)
    if code == FIELD_TYPE.LONG:
        return _fixed("<i" if signed else "<I")
    if code == FIELD_TYPE.LONGLONG:
        return _fixed("<q" if signed else "<Q")
    if code == FIELD_TYPE.FLOAT:
        return _float32()
    if code == FIELD_TYPE.DOUBLE:
        return _fixed("<d")
    if code == FIELD_TYPE.NEWDECIMAL:
        return _decimal(col.precision, col.scale)
    if code in (FIELD_TYPE.VARCHAR, FIELD_TYPE.VAR_STRING):
        return _prefixed(2 if col.max_length > 255 else 1, "" if col.binary else col.codec, col.name)
    if code == FIELD_TYPE.STRING:
        prefix = 2 if col.max_length > 255 else 1
        if col.binary:
            return _prefixed(prefix, "", col.name, pad_to=col.max_length)
        return _prefixed(prefix, col.codec, col.name, strip=True)
    if code in _BLOB_TYPES:
        return _prefixed(col.length_size, "" if col.binary else col.codec, col.name)
    if code == FIELD_TYPE.GEOMETRY:
        return _prefixed(col.length_size, "", col.name)
    if code == FIELD_TYPE.JSON:
        return _mysql_json(col.length_size)
    if code == FIELD_TYPE.ENUM:
        return _enum(col.labels, col.size)
    if code == FIELD_TYPE.SET:
        return _set(col.labels, col.size)
    if code == FIELD_TYPE.BIT:
        return _bit(col.bits)
    if code == FIELD_TYPE.YEAR:
        return _year()
    if code in (FIELD_TYPE.DATE, FIELD_TYPE.NEWDATE):
        return _date(policy)
    if code == FIELD_TYPE.DATETIME2:
        return _datetime2(col.fsp, policy)
    if code == FIELD_TYPE.TIMESTAMP2:
        return _timestamp2(col.fsp, policy)
    if code == FIELD_TYPE.TIME2:
        return _time2(col.fsp)
    if code == FIELD_TYPE.TIME:
        return _old_time()
    if code == FIELD_TYPE.DATETIME:
        return _old_datetime(policy)
    if code == FIELD_TYPE.TIMESTAMP:
        return _old_timestamp(policy)
    raise ConnectorError(f"cannot decode binlog column {col.name!r} of type code {code} ({target.describe()})",
                         hint="Exclude the table from the task, or report the column type.")


class RowDecoder:
    """Row images of one TABLE_MAP, decoded into tuples in the order of schema's columns."""

    def __init__(self, table: TableId, columns: Sequence[BinlogColumn], schema: TableSchema, policy: str) -> None:
        names = [c.name for c in columns]
        if list(schema.column_names) != names:
            raise ConnectorError(f"internal: schema columns {schema.column_names} do not match the binlog "
                                 f"columns {names} of {table}")
        self.table = table
        self.schema = schema
        self.count = len(columns)
        self.null_bytes = (self.count + 7) // 8
        self.full_bitmap = bytes([0xFF] * (self.count // 8) + ([(1 << self.count % 8) - 1] if self.count % 8 else []))
        self.decoders = [make_decoder(col, schema.columns[i].type, policy) for i, col in enumerate(columns)]
        # Only under 'fail' can a decoded value be a ZeroDate marker, and only in date columns.
        self.check_zero = [i for i, c in enumerate(schema.columns)
                           if policy == "fail" and c.type.kind in (Kind.DATE, Kind.DATETIME, Kind.TIMESTAMP)]
        self.key_indexes = schema.key_indexes()

    def image(self, data: bytes, pos: int) -> tuple[tuple[Any, ...], int]:
        nulls = int.from_bytes(data[pos:pos + self.null_bytes], "little")
        pos += self.null_bytes
        values: list[Any] = []
        append = values.append
        if not nulls:
            for decode in self.decoders:
                value, pos = decode(data, pos)
                append(value)
        else:
            bit = 1
            for decode in self.decoders:
                if nulls & bit:
                    append(None)
                else:
                    value, pos = decode(data, pos)
                    append(value)
                bit <<= 1
        row = tuple(values)
        if self.check_zero:
            self._check_zero_dates(row)
        return row, pos

    def _check_zero_dates(self, row: tuple[Any, ...]) -> None:
        for index in self.check_zero:
            value = row[index]
            if isinstance(value, ZeroDate):
                key = tuple(row[i] for i in self.key_indexes) or None
                raise ZeroDateError(self.table, self.schema.columns[index].name, key, str(value))

    def images(self, data: bytes, pairs: bool) -> list[Any]:
        """Every row of a rows event body: tuples, or (before, after) pairs for updates."""
        out: list[Any] = []
        pos = 0
        end = len(data)
        image = self.image
        while pos < end:
            before, pos = image(data, pos)
            if pairs:
                after, pos = image(data, pos)
                out.append((before, after))
            else:
                out.append(before)
        return out
