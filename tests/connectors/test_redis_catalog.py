"""Redis catalog discovery (Stream keys of one DB index) against a real redis-server."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis

from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed
from connectors.redis.catalog import MAX_STREAMS
from connectors.redis.connector import RedisConnector
from dts.localservers import RedisServer, free_port

PASSWORD = f"Redis-{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    """A Redis of our own, so the key listing is exactly what these tests wrote."""
    server = RedisServer(extra_args=["--requirepass", PASSWORD])
    server.start()
    yield server
    server.stop()


def client_for(server: RedisServer, db: int) -> redis.Redis:
    return redis.Redis(host=server.host, port=server.port, db=db, password=PASSWORD, decode_responses=True)


def config_for(server: RedisServer, database: str, password: str = PASSWORD) -> ConnectionConfig:
    return ConnectionConfig(engine="redis", host=server.host, port=server.port, password=password,
                            database=database)


def test_only_streams_of_the_chosen_db_are_listed_with_their_lengths(own_redis: RedisServer) -> None:
    db3 = client_for(own_redis, 3)
    for n in range(3):
        db3.xadd("orders", {"n": str(n)})
    db3.xadd("audit", {"who": "me"})
    db3.set("plain", "a string")
    db3.rpush("queue", "x")
    client_for(own_redis, 0).xadd("elsewhere", {"n": "1"})  # another DB index

    catalog = RedisConnector(config_for(own_redis, "3")).discover()

    assert catalog.engine == "redis"
    assert catalog.databases == ["db3"]
    assert [(t.database, t.name, t.kind, t.estimated_rows) for t in catalog.tables] == [
        ("db3", "audit", "stream", 1),
        ("db3", "orders", "stream", 3),
    ]
    assert catalog.to_dict()["databases"][0]["name"] == "db3"


def test_the_default_db_index_is_zero_and_an_empty_db_lists_nothing(own_redis: RedisServer) -> None:
    client_for(own_redis, 0).xadd("elsewhere", {"n": "1"})

    assert [t.name for t in RedisConnector(config_for(own_redis, "")).discover().tables] == ["elsewhere"]
    empty = RedisConnector(config_for(own_redis, "7")).discover()
    assert empty.databases == ["db7"]
    assert empty.tables == []


def test_the_listing_stops_at_the_bound(own_redis: RedisServer) -> None:
    db9 = client_for(own_redis, 9)
    pipe = db9.pipeline(transaction=False)
    for n in range(MAX_STREAMS + 5):
        pipe.xadd(f"s{n}", {"n": "1"})
    pipe.execute()
    assert db9.dbsize() == MAX_STREAMS + 5

    catalog = RedisConnector(config_for(own_redis, "9")).discover()

    assert len(catalog.tables) == MAX_STREAMS
    assert len({table.name for table in catalog.tables}) == MAX_STREAMS
    assert all(table.estimated_rows == 1 for table in catalog.tables)


def test_a_wrong_password_raises_connection_failed_without_it(own_redis: RedisServer) -> None:
    wrong = f"Wrong-{secrets.token_hex(8)}"

    with pytest.raises(ConnectionFailed) as raised:
        RedisConnector(config_for(own_redis, "0", password=wrong)).discover()

    assert "refused" in str(raised.value)
    assert raised.value.hint
    assert wrong not in str(raised.value)


def test_an_unreachable_server_raises_connection_failed() -> None:
    port = free_port()
    config = ConnectionConfig(engine="redis", host="127.0.0.1", port=port, connect_timeout=1.0)

    with pytest.raises(ConnectionFailed) as raised:
        RedisConnector(config).discover()

    assert f"127.0.0.1:{port}" in str(raised.value)
