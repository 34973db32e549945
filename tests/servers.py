"""pytest plugin: real servers for the suite, never mocks.

Redis starts before Django's settings load (Celery and Channels read REDIS_URL at import);
MariaDB and PostgreSQL start on first use, once per session. Each lives on a spare port under
a temp dir and is stopped by PID at the end. Loaded with '-p tests.servers' (see pyproject.toml).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from dts.localservers import MariaDBServer, PostgresServer, RedisServer

_redis: RedisServer | None = None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: Any) -> Generator[None, None, None]:
    global _redis
    if not os.environ.get("DTS_TEST_KEEP_ENV"):
        os.environ["DTS_STATE_DIR"] = tempfile.mkdtemp(prefix="dts-test-state-")
        os.environ.pop("DATABASE_URL", None)
        os.environ["DTS_MODE"] = "development"
    _redis = RedisServer().start()
    os.environ["REDIS_URL"] = _redis.url
    return (yield)


def pytest_unconfigure(config: Any) -> None:
    if _redis is not None:
        _redis.stop()


@pytest.fixture(scope="session")
def redis_server() -> RedisServer:
    assert _redis is not None
    return _redis


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    """A MariaDB with ROW binlog and full row metadata."""
    server = MariaDBServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL with wal_level=logical."""
    server = PostgresServer().start()
    yield server
    server.stop()
