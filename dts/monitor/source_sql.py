"""Short monitoring queries against a MySQL/MariaDB source, every wait bounded.

The monitor runs every few seconds for every task: one unreachable source must cost a few
seconds at most, never hang the evaluation of the others.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pymysql

from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.mysql.connection import close, error_message, open_connection
from dts.monitor import conf


class SourceUnavailable(Exception):
    """The source could not answer a monitoring query; the message says why (never the password)."""


def mysql_queries(config: ConnectionConfig, *statements: str) -> list[list[tuple[Any, ...]]]:
    """Run the statements on one short-lived connection; the rows of each."""
    timeout = conf.head_timeout_seconds()
    config = dataclasses.replace(config, connect_timeout=min(config.connect_timeout, timeout))
    try:
        conn = open_connection(config, query_timeout=timeout)
    except ConnectorError as exc:
        raise SourceUnavailable(str(exc)) from None
    try:
        results = []
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                results.append(list(cursor.fetchall()))
        return results
    except pymysql.err.MySQLError as exc:
        raise SourceUnavailable(f"{statements[0].split()[0]}… failed on {config.host}:{config.port}: "
                                f"{error_message(exc, config.password)}") from None
    finally:
        close(conn)
