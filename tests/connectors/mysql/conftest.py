"""Helpers for the MySQL source tests: a source on a database, SQL on it, reading the change stream."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.config import ConnectionConfig
from connectors.events import COMMIT, HEARTBEAT, ChangeEvent
from connectors.mysql.position import BinlogPosition
from connectors.mysql.source import MySQLSource
from connectors.types import TableId
from dts.localservers import MariaDBServer

_server_ids = iter(range(1000, 100000))


def source_for(server: MariaDBServer, **options: Any) -> MySQLSource:
    values: dict[str, Any] = {"server_id": next(_server_ids), "heartbeat_interval": 0.5}
    values.update(options)
    return MySQLSource(ConnectionConfig("mysql", server.host, server.port, server.user, server.password,
                                        options=values, connect_timeout=3.0))


class Sql:
    """Statements on one database of one server, in an autocommit session (optionally with session settings)."""

    def __init__(self, server: MariaDBServer, database: str) -> None:
        self.server = server
        self.database = database
        self.conn = server.connect(database)

    def __call__(self, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(statement, args)
            return list(cur.fetchall())

    def reconnect(self) -> None:
        self.conn = self.server.connect(self.database)

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(scope="session")
def own_mariadb() -> Iterator[MariaDBServer]:
    """A server of these tests' own: they purge its binlogs and restart it, which the shared one must not see."""
    server = MariaDBServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sql(mariadb: MariaDBServer, mysql_db: str) -> Iterator[Sql]:
    runner = Sql(mariadb, mysql_db)
    yield runner
    runner.close()


@pytest.fixture
def make_source(mariadb: MariaDBServer) -> Iterator[Callable[..., MySQLSource]]:
    sources: list[MySQLSource] = []

    def make(**options: Any) -> MySQLSource:
        source = source_for(mariadb, **options)
        sources.append(source)
        return source

    yield make
    for source in sources:
        source.close()


def read_until_idle(stream: Iterator[ChangeEvent], *, timeout: float = 30.0,
                    stop: Callable[[list[ChangeEvent]], bool] | None = None) -> list[ChangeEvent]:
    """Events (heartbeats left out) until the source is idle (first heartbeat) or stop(events) holds."""
    events: list[ChangeEvent] = []
    deadline = time.monotonic() + timeout
    for event in stream:
        if event.op == HEARTBEAT:
            if stop is None:
                return events
        else:
            events.append(event)
            if stop is not None and stop(events):
                return events
        if time.monotonic() > deadline:
            raise AssertionError(f"no end of stream within {timeout}s; got {events}")
    raise AssertionError("the change stream ended")


def changes_since(source: MySQLSource, start: BinlogPosition, *tables: TableId, **kwargs: Any) -> list[ChangeEvent]:
    stream = source.changes(start, set(tables))
    try:
        return read_until_idle(stream, **kwargs)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def row_events(events: list[ChangeEvent]) -> list[ChangeEvent]:
    return [e for e in events if e.op not in (COMMIT, HEARTBEAT)]
