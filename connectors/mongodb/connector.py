"""The MongoDB connector class: pre-flight checks and catalog discovery over pymongo."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.base import Catalog, CheckReport, Connector
from connectors.mongodb import MongoClientT, open_client
from connectors.mongodb.catalog import discover_catalog
from connectors.mongodb.check import run_checks


class MongoDBConnector(Connector):
    engine: ClassVar[str] = "mongodb"
    default_port: ClassVar[int] = 27017
    supports_source: ClassVar[bool] = True
    supports_sink: ClassVar[bool] = True

    def client(self, **overrides: Any) -> MongoClientT:
        """A new pymongo client for this datasource; the caller closes it."""
        return open_client(self.config, **overrides)

    def check(self) -> CheckReport:
        return run_checks(self.config, self.client)

    def discover(self) -> Catalog:
        return discover_catalog(self.config, self.client)
