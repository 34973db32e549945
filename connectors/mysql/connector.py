"""The MySQL/MariaDB connector: wires the checks and the catalog reader to the Connector contract."""

from __future__ import annotations

from typing import ClassVar

from connectors.base import Catalog, CheckReport, Connector
from connectors.mysql import catalog, check


class MySQLConnector(Connector):
    engine: ClassVar[str] = "mysql"
    default_port: ClassVar[int] = 3306
    supports_source: ClassVar[bool] = True
    supports_sink: ClassVar[bool] = True

    def check(self) -> CheckReport:
        return check.run_checks(self.config)

    def discover(self) -> Catalog:
        return catalog.discover(self.config)
