"""Decoding the pgoutput logical replication protocol (version 1) into small message objects.

Pure functions over bytes: no connection, no schema knowledge. Values stay as the server's text
output (bytes); source_types turns them into canonical values. Message layouts are those of the
PostgreSQL documentation, "Logical Replication Message Formats"; integers are big-endian.

A tuple is a list of column values, each bytes (text format), None (SQL NULL) or UNCHANGED (a
TOASTed value the update did not touch, which the server does not resend).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

# Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC).
PG_EPOCH_OFFSET_US: Final = 946_684_800_000_000


class _Unchanged:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = _Unchanged()
Value = bytes | None | _Unchanged


class ProtocolError(ValueError):
    """A message the decoder does not understand: the stream cannot be trusted past it."""


@dataclass(frozen=True, slots=True)
class RelationColumn:
    name: str
    type_oid: int
    type_modifier: int
    is_key: bool


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int
    commit_time: float  # seconds since the Unix epoch
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_time: float


@dataclass(frozen=True, slots=True)
class Relation:
    oid: int
    namespace: str
    name: str
    replica_identity: str  # d (default), n (nothing), f (full), i (index)
    columns: tuple[RelationColumn, ...]


@dataclass(frozen=True, slots=True)
class Insert:
    relation: int
    new: list[Value]


@dataclass(frozen=True, slots=True)
class Update:
    relation: int
    old: list[Value] | None  # None: no old tuple sent (key unchanged, identity not FULL)
    old_is_key_only: bool  # 'K': only the replica identity columns hold values
    new: list[Value]


@dataclass(frozen=True, slots=True)
class Delete:
    relation: int
    old: list[Value]
    old_is_key_only: bool


@dataclass(frozen=True, slots=True)
class Truncate:
    relations: tuple[int, ...]
    cascade: bool
    restart_identity: bool


@dataclass(frozen=True, slots=True)
class Ignored:
    """Origin, Type and logical decoding messages: nothing a copy needs."""

    tag: str


Message = Begin | Commit | Relation | Insert | Update | Delete | Truncate | Ignored

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_INT64 = struct.Struct(">q")
_UINT64 = struct.Struct(">Q")


def pg_time(microseconds: int) -> float:
    """A protocol timestamp (microseconds since 2000-01-01) as seconds since the Unix epoch."""
    return (microseconds + PG_EPOCH_OFFSET_US) / 1_000_000


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def need(self, count: int) -> None:
        if self.pos + count > len(self.data):
            raise ProtocolError(f"message truncated: needs {count} byte(s) at offset {self.pos} of {len(self.data)}")

    def byte(self) -> str:
        self.need(1)
        value = chr(self.data[self.pos])
        self.pos += 1
        return value

    def int8(self) -> int:
        self.need(1)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def int16(self) -> int:
        self.need(2)
        (value,) = _INT16.unpack_from(self.data, self.pos)
        self.pos += 2
        return int(value)

    def int32(self) -> int:
        self.need(4)
        (value,) = _INT32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(value)

    def uint32(self) -> int:
        self.need(4)
        (value,) = _UINT32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(value)

    def int64(self) -> int:
        self.need(8)
        (value,) = _INT64.unpack_from(self.data, self.pos)
        self.pos += 8
        return int(value)

    def uint64(self) -> int:
        self.need(8)
        (value,) = _UINT64.unpack_from(self.data, self.pos)
        self.pos += 8
        return int(value)

    def string(self) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise ProtocolError(f"unterminated string at offset {self.pos}")
        value = self.data[self.pos:end].decode("utf-8")
        self.pos = end + 1
        return value

    def tuple_data(self) -> list[Value]:
        # The hot path of the stream (every column of every row): locals only, no method call per value.
        data, pos, size = self.data, self.pos, len(self.data)
        if pos + 2 > size:
            raise ProtocolError(f"message truncated: no column count at offset {pos}")
        (count,) = _INT16.unpack_from(data, pos)
        pos += 2
        values: list[Value] = []
        append = values.append
        unpack = _INT32.unpack_from
        for _ in range(count):
            if pos >= size:
                raise ProtocolError(f"message truncated: {len(values)} of {count} columns")
            kind = data[pos]
            pos += 1
            if kind == 116:  # 't': text value
                if pos + 4 > size:
                    raise ProtocolError(f"message truncated: no value length at offset {pos}")
                (length,) = unpack(data, pos)
                pos += 4
                stop = pos + length
                if length < 0 or stop > size:
                    raise ProtocolError(f"message truncated: a {length}-byte value at offset {pos}")
                append(data[pos:stop])
                pos = stop
            elif kind == 110:  # 'n': NULL
                append(None)
            elif kind == 117:  # 'u': unchanged TOASTed value
                append(UNCHANGED)
            else:  # 'b' (binary) only comes with the binary option, which we never ask for
                raise ProtocolError(f"unknown tuple value kind {chr(kind)!r}")
        self.pos = pos
        return values


def decode(data: bytes) -> Message:
    """One pgoutput message (the payload of an XLogData message)."""
    if not data:
        raise ProtocolError("empty message")
    reader = _Reader(data)
    tag = reader.byte()
    if tag == "B":
        final_lsn = reader.uint64()
        timestamp = reader.int64()
        return Begin(final_lsn, pg_time(timestamp), reader.uint32())
    if tag == "C":
        reader.int8()  # flags, unused
        commit_lsn = reader.uint64()
        end_lsn = reader.uint64()
        return Commit(commit_lsn, end_lsn, pg_time(reader.int64()))
    if tag == "R":
        oid = reader.uint32()
        namespace = reader.string()
        name = reader.string()
        identity = chr(reader.int8())
        columns = []
        for _ in range(reader.int16()):
            flags = reader.int8()
            column_name = reader.string()
            type_oid = reader.uint32()
            columns.append(RelationColumn(column_name, type_oid, reader.int32(), bool(flags & 1)))
        return Relation(oid, namespace, name, identity, tuple(columns))
    if tag == "I":
        relation = reader.uint32()
        if reader.byte() != "N":
            raise ProtocolError("an Insert message without its new tuple")
        return Insert(relation, reader.tuple_data())
    if tag == "U":
        relation = reader.uint32()
        kind = reader.byte()
        old: list[Value] | None = None
        key_only = False
        if kind in ("K", "O"):
            key_only = kind == "K"
            old = reader.tuple_data()
            kind = reader.byte()
        if kind != "N":
            raise ProtocolError(f"an Update message with tuple kind {kind!r} where 'N' belongs")
        return Update(relation, old, key_only, reader.tuple_data())
    if tag == "D":
        relation = reader.uint32()
        kind = reader.byte()
        if kind not in ("K", "O"):
            raise ProtocolError(f"a Delete message with tuple kind {kind!r}")
        return Delete(relation, reader.tuple_data(), kind == "K")
    if tag == "T":
        count = reader.uint32()
        options = reader.int8()
        relations = tuple(reader.uint32() for _ in range(count))
        return Truncate(relations, bool(options & 1), bool(options & 2))
    if tag in ("O", "Y", "M"):
        return Ignored(tag)
    raise ProtocolError(f"unknown pgoutput message type {tag!r}")
