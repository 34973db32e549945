"""Engine name -> compare endpoint class, imported only when asked for (like connectors.registry)."""

from __future__ import annotations

from importlib import import_module

from connectors.config import ConnectionConfig
from connectors.errors import UnknownEngine

from .endpoint import Endpoint

ENDPOINTS: dict[str, str] = {
    "mysql": "connectors.compare.mysql_endpoint.MySQLEndpoint",
    "postgresql": "connectors.compare.postgres_endpoint.PostgresEndpoint",
}


def endpoint_for(config: ConnectionConfig, *, zero_date_policy: str = "null") -> Endpoint:
    try:
        dotted = ENDPOINTS[config.engine]
    except KeyError:
        raise UnknownEngine(f"engine {config.engine!r} cannot be compared",
                            hint=f"compare works with: {', '.join(sorted(ENDPOINTS))}") from None
    module_name, class_name = dotted.rsplit(".", 1)
    cls = getattr(import_module(module_name), class_name)
    return cls(config, zero_date_policy=zero_date_policy)  # type: ignore[no-any-return]
