"""Fixtures for connector tests: configs pointing at the real test servers, extra accounts, a silent port."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.config import ConnectionConfig
from dts.localservers import MariaDBServer, PostgresServer

ConfigFactory = Callable[..., ConnectionConfig]
_accounts = itertools.count(1)


def _config(engine: str, server: Any, overrides: dict[str, Any]) -> ConnectionConfig:
    values: dict[str, Any] = {"engine": engine, "host": server.host, "port": server.port, "user": server.user,
                              "password": server.password, "connect_timeout": 3.0}
    values.update(overrides)
    return ConnectionConfig(**values)


@pytest.fixture
def mysql_config() -> ConfigFactory:
    """mysql_config(server, **fields): a ConnectionConfig for a MariaDBServer, fields overridden."""
    return lambda server, **overrides: _config("mysql", server, overrides)


@pytest.fixture
def pg_config() -> ConfigFactory:
    """pg_config(server, **fields): a ConnectionConfig for a PostgresServer, fields overridden."""
    return lambda server, **overrides: _config("postgresql", server, overrides)


@pytest.fixture
def mysql_account(mariadb: MariaDBServer) -> Iterator[Callable[..., tuple[str, str]]]:
    """mysql_account(*grants): a new 'user'@'%' with a password and the given GRANT statements ({user} filled in).

    Returns (user, password); every account is dropped afterwards.
    """
    created: list[str] = []
    conn = mariadb.connect()

    def make(*grants: str) -> tuple[str, str]:
        user, password = f"dts_u{next(_accounts)}", "Pw-for-test-7q2"
        with conn.cursor() as cur:
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
            created.append(user)
            for grant in grants:
                cur.execute(grant.format(user=f"'{user}'@'%'"))
        return user, password

    yield make
    with conn.cursor() as cur:
        for user in created:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
    conn.close()


@pytest.fixture
def pg_role(postgres: PostgresServer) -> Iterator[Callable[..., tuple[str, str]]]:
    """pg_role(*grants, attributes="LOGIN"): a new role with a password and the given GRANTs ({role} filled in)."""
    created: list[str] = []
    conn = postgres.connect()

    def make(*grants: str, attributes: str = "LOGIN") -> tuple[str, str]:
        role, password = f"dts_r{next(_accounts)}", "Pw-for-test-7q2"
        conn.execute(f"CREATE ROLE {role} WITH {attributes} PASSWORD '{password}'")
        created.append(role)
        for grant in grants:
            conn.execute(grant.format(role=role))
        return role, password

    yield make
    for role in created:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE IF EXISTS {role}")
    conn.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel completes them) but never says anything."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


@pytest.fixture
def banner_port() -> Iterator[int]:
    """A port where another service answers: it sends an SSH banner to every client, then hangs up."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            with client:
                client.sendall(b"SSH-2.0-OpenSSH_9.2p1\r\n")
                client.settimeout(0.5)
                try:
                    client.recv(1024)
                except OSError as exc:  # the client gave up first; nothing left to do with it
                    logging.getLogger(__name__).debug("banner client: %s", exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    server.close()
