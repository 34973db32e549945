"""Shared fixtures: personas, API clients, fresh databases on the real servers."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from dts.localservers import MariaDBServer, PostgresServer

_counter = itertools.count(1)


@pytest.fixture
def mysql_db(mariadb: MariaDBServer) -> Iterator[str]:
    """A fresh, empty MariaDB database, dropped afterwards."""
    name = f"t{next(_counter)}_{id(object()) % 100000}"
    conn = mariadb.connect()
    conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    yield name
    conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


@pytest.fixture
def pg_db(postgres: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"t{next(_counter)}_{id(object()) % 100000}"
    conn = postgres.connect()
    conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()
