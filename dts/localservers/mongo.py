"""A throwaway MongoDB wire-protocol server: nx-27017 (pure Python, over SQLite).

No real mongod installs from the registries here, so this stands in for the wire path only:
it has no replica set, no authentication, and database-level change streams return nothing
(see shared/design/test-servers.md). Tests run against a real MongoDB when one is given.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pymongo
from pymongo.errors import PyMongoError

from dts.localservers.base import LocalServer, ServerStartError

PACKAGE = "nx-27017==0.8.1"


class MongoWireServer(LocalServer):
    name = "mongo"
    # A standalone with no users: these exist so callers treat it like any other MongoDB.
    user = ""
    password = ""

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def uri(self) -> str:
        credentials = f"{quote_plus(self.user)}:{quote_plus(self.password)}@" if self.user else ""
        return f"mongodb://{credentials}{self.host}:{self.port}/?directConnection=true"

    def prepare(self) -> None:
        if importlib.util.find_spec("nx_27017") is None:
            raise ServerStartError(f"the Python package 'nx_27017' is not installed; run 'pip install {PACKAGE}' "
                                   "(it is listed in requirements/dev.txt)")
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        # Run with this interpreter so the venv's package is used even when its bin/ is not on PATH.
        return [
            sys.executable, "-m", "nx_27017.nx_27017",
            "--host", self.host,
            "--port", str(self.port),
            # One SQLite file per logical database, like mongod's per-database isolation.
            "--data-dir", str(self.data_dir),
            # Its default PID file is shared in /tmp; a private one lets several servers run at once.
            "--pid-file", str(self.base_dir / "nx-27017.pid"),
            # It also logs to stderr, which already goes to log_path; avoid a second copy.
            "--log-file", os.devnull,
        ]

    def client(self, **kwargs: Any) -> pymongo.MongoClient[dict[str, Any]]:
        options: dict[str, Any] = {"directConnection": True, "serverSelectionTimeoutMS": 5000}
        options.update(kwargs)
        return pymongo.MongoClient(self.host, self.port, **options)

    def is_ready(self) -> bool:
        client = self.client(serverSelectionTimeoutMS=200, connectTimeoutMS=200)
        try:
            client.admin.command("ping")
            return True
        except PyMongoError:
            return False
        finally:
            client.close()
