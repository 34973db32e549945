"""One dict from engine name to connector class path, imported only when asked for."""

from __future__ import annotations

from importlib import import_module

from connectors.base import Connector
from connectors.config import ConnectionConfig
from connectors.errors import UnknownEngine

CONNECTORS: dict[str, str] = {
    "mysql": "connectors.mysql.connector.MySQLConnector",
    "postgresql": "connectors.postgresql.connector.PostgreSQLConnector",
    "mongodb": "connectors.mongodb.connector.MongoDBConnector",
    "redis": "connectors.redis.connector.RedisConnector",
}


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
