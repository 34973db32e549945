"""Helpers for the PostgreSQL source tests: SQL on a fresh database, sources that clean up their slots."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.config import ConnectionConfig
from connectors.events import COMMIT, HEARTBEAT, ChangeEvent
from connectors.postgresql.source import PostgreSQLSource
from dts.localservers import PostgresServer

_slots = itertools.count(1)


class PgSql:
    """Autocommit statements on one database, in a UTC session."""

    def __init__(self, server: PostgresServer, database: str) -> None:
        self.server = server
        self.database = database
        self.conn = server.connect(database)
        self.conn.execute("SET TIME ZONE 'UTC'")

    def __call__(self, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(statement.encode() if args is None else statement, args)
        return cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        self.conn.close()


def pg_source_config(server: PostgresServer, database: str, **options: Any) -> ConnectionConfig:
    values: dict[str, Any] = {"slot_name": f"dts_test_{next(_slots)}_{int(time.time() * 1000) % 100000}",
                              "heartbeat_interval": 0.3}
    values.update(options)
    return ConnectionConfig("postgresql", server.host, server.port, server.user, server.password,
                            database=database, options=values, connect_timeout=3.0)


def drop_slots(server: PostgresServer, database: str) -> None:
    """Drop every slot on database (a database with a logical slot cannot be dropped)."""
    conn = server.connect()
    try:
        deadline = time.monotonic() + 20
        while True:
            rows = conn.execute("SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = %s",
                                [database]).fetchall()
            if not rows:
                return
            for name, pid in rows:
                if pid is None:
                    conn.execute("SELECT pg_drop_replication_slot(%s)", [name])
                elif time.monotonic() > deadline:
                    conn.execute("SELECT pg_terminate_backend(%s)", [pid])
            time.sleep(0.1)
    finally:
        conn.close()


@pytest.fixture
def pg_src(postgres: PostgresServer, pg_db: str) -> Iterator[PgSql]:
    """Autocommit SQL on a fresh source database; its slots are dropped afterwards (before the database)."""
    runner = PgSql(postgres, pg_db)
    yield runner
    runner.close()
    drop_slots(postgres, pg_db)


@pytest.fixture
def pg_source(postgres: PostgresServer, pg_db: str, pg_src: PgSql) -> Iterator[Callable[..., PostgreSQLSource]]:
    """pg_source(**options): a PostgreSQLSource on the fresh database, closed afterwards."""
    made: list[PostgreSQLSource] = []

    def make(**options: Any) -> PostgreSQLSource:
        source = PostgreSQLSource(pg_source_config(postgres, pg_db, **options))
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def collect(stream: Iterator[ChangeEvent], *, commits: int, timeout: float = 20.0,
            keep_heartbeats: bool = False) -> list[ChangeEvent]:
    """Events until `commits` COMMIT events have arrived (COMMITs included, heartbeats left out)."""
    events: list[ChangeEvent] = []
    seen = 0
    deadline = time.monotonic() + timeout
    for event in stream:
        if event.op != HEARTBEAT or keep_heartbeats:
            events.append(event)
        if event.op == COMMIT:
            seen += 1
            if seen >= commits:
                return events
        if time.monotonic() > deadline:
            raise AssertionError(f"only {seen} of {commits} commits within {timeout}s: {events}")
    raise AssertionError("the stream ended")
