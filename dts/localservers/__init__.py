"""Throwaway local servers (Redis, MariaDB, PostgreSQL) on spare ports under a temp dir.

Used by the run command (a Redis when none is reachable) and by the test suite (real
servers, never mocks). Each server is started as its own process group and stopped by PID.
"""

from dts.localservers.base import LocalServer, free_port
from dts.localservers.mariadb import MariaDBServer
from dts.localservers.mongo import MongoWireServer
from dts.localservers.postgres import PostgresServer
from dts.localservers.redis import RedisServer

__all__ = ["LocalServer", "MariaDBServer", "MongoWireServer", "PostgresServer", "RedisServer", "free_port"]
