"""A place in a PostgreSQL write-ahead log: a log sequence number (LSN).

An LSN is a 64-bit byte offset into the WAL, written as two hex halves ("0/16B3748"). Positions
saved by the change stream are transaction ends (the commit's end LSN) or, when the task's tables
are idle, the walsender's decoding position: resuming there replays nothing already applied.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

_TEXT = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")


def parse_lsn(text: str) -> int:
    match = _TEXT.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an LSN (expected two hex numbers like '0/16B3748')")
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@functools.total_ordering
@dataclass(frozen=True, slots=True, eq=False)
class Lsn:
    value: int

    def __post_init__(self) -> None:
        if not 0 <= self.value < 1 << 64:
            raise ValueError(f"an LSN is a 64-bit unsigned number, got {self.value}")

    @classmethod
    def parse(cls, text: str) -> Lsn:
        return cls(parse_lsn(text))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Lsn):
            return NotImplemented
        return self.value == other.value

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Lsn):
            return NotImplemented
        return self.value < other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return format_lsn(self.value)

    def to_json(self) -> dict[str, Any]:
        return {"lsn": format_lsn(self.value)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lsn:
        text = data.get("lsn") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise ValueError(f"a PostgreSQL position needs 'lsn' as text like '0/16B3748', got {data!r}")
        return cls.parse(text)
