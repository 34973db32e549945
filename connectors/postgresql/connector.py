"""The PostgreSQL connector: wires the checks and the catalog reader to the Connector contract."""

from __future__ import annotations

from typing import ClassVar

from connectors.base import Catalog, CheckReport, Connector
from connectors.postgresql import catalog, check


class PostgreSQLConnector(Connector):
    engine: ClassVar[str] = "postgresql"
    default_port: ClassVar[int] = 5432
    supports_source: ClassVar[bool] = True
    supports_sink: ClassVar[bool] = True

    def check(self) -> CheckReport:
        return check.run_checks(self.config)

    def discover(self) -> Catalog:
        return catalog.discover(self.config)
