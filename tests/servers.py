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
_metadata_pg: PostgresServer | None = None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: Any) -> Generator[None, None, None]:
    global _redis, _metadata_pg
    if not os.environ.get("DTS_TEST_KEEP_ENV"):
        os.environ["DTS_STATE_DIR"] = tempfile.mkdtemp(prefix="dts-test-state-")
        os.environ.pop("DATABASE_URL", None)
        os.environ["DTS_MODE"] = "development"
    _redis = RedisServer().start()
    os.environ["REDIS_URL"] = _redis.url
    # DTS_TEST_METADATA=postgresql runs the control plane on PostgreSQL, as production does.
    if os.environ.get("DTS_TEST_METADATA") == "postgresql":
        _metadata_pg = PostgresServer().start()
        os.environ["DATABASE_URL"] = _metadata_pg.dsn
    return (yield)


def pytest_unconfigure(config: Any) -> None:
    for server in (_redis, _metadata_pg):
        if server is not None:
            server.stop()


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


# MongoDB: a real server when DTS_TEST_MONGO_URI is set, else nx-27017 (a wire-protocol stand-in).
# Imports are here so the section above stays untouched.
from dataclasses import dataclass, field  # noqa: E402

import pymongo  # noqa: E402
from pymongo.uri_parser import parse_uri  # noqa: E402

from dts.localservers import MongoWireServer  # noqa: E402


@dataclass(frozen=True)
class MongoTarget:
    """Where the Mongo tests connect; options are MongoClient options (authSource, replicaSet, tls...)."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    uri: str = field(repr=False)  # may carry the password
    is_real_mongodb: bool
    options: dict[str, Any] = field(default_factory=dict)

    def client(self, **kwargs: Any) -> pymongo.MongoClient[dict[str, Any]]:
        options: dict[str, Any] = {"serverSelectionTimeoutMS": 5000}
        options.update(kwargs)
        return pymongo.MongoClient(self.uri, **options)


@pytest.fixture(scope="session")
def mongo() -> Iterator[MongoTarget]:
    """A real MongoDB from DTS_TEST_MONGO_URI, else a throwaway nx-27017 (no replica set, no auth)."""
    uri = os.environ.get("DTS_TEST_MONGO_URI")
    if uri:
        parsed = parse_uri(uri)
        host, port = parsed["nodelist"][0]
        options = dict(parsed["options"])
        # A URI's /db path is the auth database when no authSource is given.
        if parsed["username"] and parsed["database"] and "authSource" not in options:
            options["authSource"] = parsed["database"]
        yield MongoTarget(host=host, port=int(port), user=parsed["username"] or "",
                          password=parsed["password"] or "", uri=uri, is_real_mongodb=True, options=options)
        return
    server = MongoWireServer()
    server.start()
    try:
        yield MongoTarget(host=server.host, port=server.port, user="", password="", uri=server.uri,
                          is_real_mongodb=False, options={"directConnection": True})
    finally:
        server.stop()
