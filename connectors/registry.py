"""One dict from engine name to connector class path, imported only when asked for."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from connectors.base import Connector, Sink, Source
from connectors.config import ConnectionConfig
from connectors.errors import UnknownEngine

CONNECTORS: dict[str, str] = {
    "mysql": "connectors.mysql.connector.MySQLConnector",
    "postgresql": "connectors.postgresql.connector.PostgreSQLConnector",
    "mongodb": "connectors.mongodb.connector.MongoDBConnector",
    "redis": "connectors.redis.connector.RedisConnector",
}

# Only what can read: check() and discover() come with it.
SOURCES: dict[str, str] = {
    "mysql": "connectors.mysql.source.MySQLSource",
    "mongodb": "connectors.mongodb.source.MongoDBSource",
    "postgresql": "connectors.postgresql.source.PostgreSQLSource",
}

SINKS: dict[str, str] = {
    "postgresql": "connectors.postgresql.sink.PostgreSQLSink",
    "mysql": "connectors.mysql.sink.MySQLSink",
    "mongodb": "connectors.mongodb.sink.MongoDBSink",
    "redis": "connectors.redis.sink.RedisStreamsSink",
}

DEFAULT_PORTS = {"mysql": 3306, "postgresql": 5432, "mongodb": 27017, "redis": 6379}


def _load(table: dict[str, str], engine: str, role: str) -> type[Any]:
    try:
        dotted = table[engine]
    except KeyError:
        raise UnknownEngine(f"engine {engine!r} cannot be used as a {role}",
                            hint=f"{role}s available: {', '.join(sorted(table))}") from None
    module_name, class_name = dotted.rsplit(".", 1)
    return getattr(import_module(module_name), class_name)  # type: ignore[no-any-return]


def source_for(config: ConnectionConfig) -> Source:
    return _load(SOURCES, config.engine, "source")(config)  # type: ignore[no-any-return]


def sink_for(config: ConnectionConfig) -> Sink:
    return _load(SINKS, config.engine, "sink")(config)  # type: ignore[no-any-return]


def connector_class(engine: str) -> type[Connector]:
    try:
        dotted = CONNECTORS[engine]
    except KeyError:
        raise UnknownEngine(f"no connector for engine {engine!r}",
                            hint=f"use one of: {', '.join(sorted(CONNECTORS))}") from None
    module_name, class_name = dotted.rsplit(".", 1)
    return getattr(import_module(module_name), class_name)


def connector_for(config: ConnectionConfig) -> Connector:
    return connector_class(config.engine)(config)
