"""Errors of the MySQL/MariaDB source that a user can act on."""

from __future__ import annotations

from typing import Any

from connectors.errors import ConnectorError
from connectors.types import TableId

ZERO_DATE_POLICIES = ("null", "epoch", "string", "fail")


class ZeroDateError(ConnectorError):
    """A zero date ('0000-00-00', '2024-00-15', ...) was read under the zero_date_policy 'fail'."""

    def __init__(self, table: TableId, column: str, key: tuple[Any, ...] | None, text: str) -> None:
        where = f"row with key {key!r}" if key else "a row"
        super().__init__(
            f"zero date {text!r} in {table}.{column} ({where}): PostgreSQL and most targets have no such date",
            hint="Set the task option zero_date_policy to 'null' (write NULL), 'epoch' (write 1970-01-01), "
                 "or 'string' (copy date columns as text), or fix the value at the source.")
        self.table = table
        self.column = column
        self.key = key
        self.text = text


class BinlogPurgedError(ConnectorError):
    """The binlog position to resume from no longer exists on the server (or the server cannot read from it,
    error 1236): the changes since then are lost to this task, which needs a new snapshot."""

    def __init__(self, position: str, detail: str = "", *, purged: bool = True) -> None:
        what = "is gone from the server (purged or expired)" if purged else "cannot be read from the server any more"
        super().__init__(
            f"binlog position {position} {what}" + (f": {detail}" if detail else ""),
            hint="The changes since that position cannot be read any more: restart the task from scratch "
                 "(a new snapshot), and raise binlog_expire_logs_seconds / expire_logs_days so the binlog "
                 "outlives the longest pause of the task.")


class MissingServerIdError(ConnectorError):
    """changes() needs a replica server_id that is unique among the server's replicas."""

    def __init__(self) -> None:
        super().__init__(
            "reading the binlog needs the option \"server_id\"",
            hint="Give each stream its own server_id (an integer 1..4294967295, different from the server's "
                 "and every other replica's); the control plane allocates one per task.")
