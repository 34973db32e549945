"""The Redis connector class: a sink publishing changes to Redis Streams; checks and discovery."""

from __future__ import annotations

from typing import ClassVar

import redis

from connectors.base import Catalog, CheckReport, Connector
from connectors.redis import open_client
from connectors.redis.catalog import discover_catalog
from connectors.redis.check import run_checks


class RedisConnector(Connector):
    engine: ClassVar[str] = "redis"
    default_port: ClassVar[int] = 6379
    supports_source: ClassVar[bool] = False
    supports_sink: ClassVar[bool] = True

    def client(self) -> redis.Redis:
        """A new redis-py client for this datasource; the caller closes it."""
        return open_client(self.config)

    def check(self) -> CheckReport:
        return run_checks(self.config, self.client)

    def discover(self) -> Catalog:
        return discover_catalog(self.config, self.client)
