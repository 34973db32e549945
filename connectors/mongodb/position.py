"""A place in a MongoDB change stream: the cluster time, and the resume token of the last event seen.

Ordered by cluster time, then by the token: a token's `_data` is the hex of a binary key that
MongoDB itself orders byte by byte (it begins with the event's cluster time), so tokens at the
same cluster time (one transaction's events) compare in stream order. A position without a token
(from current_position) means "every event at or after this cluster time": the stream opens with
startAtOperationTime. A position with a token means "after this event": resumeAfter the token.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bson import Timestamp

# A v1 resume token's `_data` starts with the KeyString type byte of a Timestamp (130) and the
# timestamp's 8 bytes, big-endian: seconds then increment.
_TIMESTAMP_TYPE = "82"


def token_time(token: Mapping[str, Any] | None) -> Timestamp | None:
    """The cluster time a resume token starts with, or None for a token of another format."""
    data = (token or {}).get("_data")
    if not isinstance(data, str) or not data.startswith(_TIMESTAMP_TYPE) or len(data) < 18:
        return None
    try:
        return Timestamp(int(data[2:10], 16), int(data[10:18], 16))
    except ValueError:
        return None


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class MongoPosition:
    time: int  # cluster time: seconds
    inc: int  # cluster time: increment within the second
    token: dict[str, Any] | None = None  # resume token of the last event seen, when there is one

    @property
    def cluster_time(self) -> Timestamp:
        return Timestamp(self.time, self.inc)

    def _key(self) -> tuple[int, int, str]:
        return (self.time, self.inc, str((self.token or {}).get("_data", "")))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MongoPosition):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, MongoPosition):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return f"Timestamp({self.time}, {self.inc})" + (" + resume token" if self.token else "")

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "inc": self.inc, "token": self.token}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MongoPosition:
        try:
            time, inc = data["time"], data["inc"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a MongoDB position needs 'time' and 'inc' (the cluster time), got {data!r}") from exc
        token = data.get("token")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (time, inc)):
            raise ValueError(f"a MongoDB position's 'time' and 'inc' must be whole numbers, got {data!r}")
        if token is not None and not (isinstance(token, dict) and "_data" in token):
            raise ValueError(f"a MongoDB position's 'token' must be a resume token {{'_data': ...}}, got {token!r}")
        return cls(time, inc, token)

    @classmethod
    def at(cls, cluster_time: Timestamp, token: Mapping[str, Any] | None = None) -> MongoPosition:
        return cls(cluster_time.time, cluster_time.inc, dict(token) if token is not None else None)
