"""A place in a MySQL/MariaDB binlog: file and byte offset, plus the GTID state there.

Ordered by (the file's sequence number, offset): binlog files are named base.000001, base.000002,
... so the number, not the name, orders them (base names may change with the server's config).
The GTID is carried for information and failover; it does not take part in ordering or equality.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

_SEQUENCE = re.compile(r"\.(\d+)$")


def file_sequence(name: str) -> int:
    match = _SEQUENCE.search(name)
    if match is None:
        raise ValueError(f"binlog file name {name!r} has no numeric extension (expected e.g. binlog.000042)")
    return int(match.group(1))


@functools.total_ordering
@dataclass(frozen=True, slots=True, eq=False)
class BinlogPosition:
    file: str
    pos: int
    gtid: str = field(default="")

    def __post_init__(self) -> None:
        file_sequence(self.file)  # validate early: a bad name would break ordering later
        if self.pos < 0:
            raise ValueError(f"binlog offset must be >= 0, got {self.pos}")

    def _key(self) -> tuple[int, int]:
        return (file_sequence(self.file), self.pos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BinlogPosition):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, BinlogPosition):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return f"{self.file}:{self.pos}" + (f" (gtid {self.gtid})" if self.gtid else "")

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "pos": self.pos, "gtid": self.gtid}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BinlogPosition:
        try:
            file, pos = data["file"], data["pos"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a binlog position needs 'file' and 'pos', got {data!r}") from exc
        if not isinstance(file, str) or not isinstance(pos, int) or isinstance(pos, bool):
            raise ValueError(f"a binlog position needs a string 'file' and an integer 'pos', got {data!r}")
        gtid = data.get("gtid") or ""
        if not isinstance(gtid, str):
            raise ValueError(f"a binlog position's 'gtid' must be a string, got {gtid!r}")
        return cls(file, pos, gtid)
