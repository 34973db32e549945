"""MongoDB fixtures: configs for the `mongo` server (nx-27017, or DTS_TEST_MONGO_URI) and fresh databases."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pymongo
import pytest

from connectors.config import ConnectionConfig
from tests.servers import MongoTarget

_databases = itertools.count(1)
NEEDS_REPLICA_SET = ("change streams need a replica set: nx-27017 has none (and its database-level streams return "
                     "nothing); set DTS_TEST_MONGO_URI to a real MongoDB replica set to run this test")


def mongo_config(mongo: MongoTarget, **options: Any) -> ConnectionConfig:
    """A ConnectionConfig for the test server; on nx-27017, decimals as text (it cannot store Decimal128)."""
    values = dict(mongo.options)
    if not mongo.is_real_mongodb:
        values.setdefault("decimal_mode", "string")
    values.update(options)
    return ConnectionConfig(engine="mongodb", host=mongo.host, port=mongo.port, user=mongo.user,
                            password=mongo.password, options=values, connect_timeout=5.0)


@pytest.fixture
def mongo_db(mongo: MongoTarget) -> Iterator[str]:
    """A fresh database name, dropped afterwards."""
    name = f"dts_test_{os.getpid()}_{next(_databases)}"
    yield name
    client = mongo.client()
    client.drop_database(name)
    client.close()


@pytest.fixture
def mongo_client(mongo: MongoTarget) -> Iterator[pymongo.MongoClient[dict[str, Any]]]:
    client = mongo.client(uuidRepresentation="standard")
    yield client
    client.close()


@pytest.fixture
def replica_set(mongo: MongoTarget) -> MongoTarget:
    """The server, when it can run change streams; the test is skipped (with the reason) otherwise."""
    if not mongo.is_real_mongodb:
        pytest.skip(NEEDS_REPLICA_SET)
    return mongo


MongoConfig = Callable[..., ConnectionConfig]
