"""Opening a psycopg connection within bounded waits, and naming the stage at which it failed.

A TCP probe first (so refused, timed out and unresolvable hosts get their own clear messages),
then libpq's own connect_timeout bounds the startup and login; statement_timeout bounds every
query after that. libpq reports login failures only as text, so they are told apart by the
server's (English) message; anything unrecognised is still reported, with the message itself.

Options read from ConnectionConfig.options: "sslmode" (libpq's, e.g. "require", "verify-full"),
"sslrootcert", "ssl" (true: sslmode=require when no sslmode is given).
"""

from __future__ import annotations

import logging
import math
import re
import socket
from typing import Any

import psycopg
from psycopg import sql

from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed

log = logging.getLogger(__name__)

MIN_REDACTED_LENGTH = 4

REACHABLE = "reachable"
AUTHENTICATION = "authentication"
DATABASE = "database"
DEFAULT_DATABASE = "postgres"
NOT_POSTGRES_MARKERS = ("invalid response to ssl negotiation", "expected authentication request", "received invalid",
                        "server closed the connection", "lost synchronization", "connection refused")


class ConnectStageError(ConnectionFailed):
    """A connection attempt failed; stage says which check it belongs to."""

    def __init__(self, stage: str, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.stage = stage

    @property
    def detail(self) -> str:
        return str(self.args[0])


def ident(name: str) -> str:
    """A quoted identifier, for the SQL we print in hints."""
    return sql.Identifier(name).as_string(None)


def literal(value: str) -> str:
    return sql.Literal(value).as_string(None)


def redact(text: str, secret: str) -> str:
    """Remove a secret from text that came from elsewhere (a server message), just in case.

    Very short secrets are left alone: masking every 'p' in a message would hide it, not protect it.
    """
    return text.replace(secret, "***") if len(secret) >= MIN_REDACTED_LENGTH else text


def address(config: ConnectionConfig) -> str:
    return f"{config.host}:{config.port}"


def database_name(config: ConnectionConfig) -> str:
    return config.database or DEFAULT_DATABASE


def probe_tcp(config: ConnectionConfig) -> None:
    """Open and close a TCP connection within connect_timeout, naming the reason when it fails."""
    where = address(config)
    timeout = config.connect_timeout
    try:
        socket.create_connection((config.host, config.port), timeout=timeout).close()
    except socket.gaierror as exc:
        raise ConnectStageError(
            REACHABLE, f"cannot resolve the host name '{config.host}' ({exc.strerror})",
            hint="Check the host name for typos, and that the DTS worker's DNS can resolve it "
                 f"(e.g. 'getent hosts {config.host}' on the worker).") from exc
    except ConnectionRefusedError as exc:
        raise ConnectStageError(
            REACHABLE, f"connection to {where} refused: nothing is listening on that port",
            hint="Check the port (PostgreSQL's default is 5432) and that the server is running with "
                 "listen_addresses covering this network interface (postgresql.conf).") from exc
    except TimeoutError as exc:
        raise ConnectStageError(
            REACHABLE, f"no answer from {where} within {timeout:g}s (connection timed out)",
            hint=f"Check the host address, and that firewalls or security groups let the DTS worker reach "
                 f"TCP port {config.port}.") from exc
    except OSError as exc:
        raise ConnectStageError(
            REACHABLE, f"cannot connect to {where}: {exc.strerror or exc}",
            hint="Check the host address and the network route from the DTS worker to the server.") from exc


def _server_message(exc: BaseException, secret: str) -> str:
    """libpq's message without its 'connection to server at ... failed:' preamble."""
    text = " ".join(str(exc).split())
    text = re.sub(r'^(connection failed: )?connection to server at "[^"]*"( \([^)]*\))?, port \d+ failed: ', "",
                  text)
    return redact(text.replace("FATAL: ", ""), secret)


def _login_error(exc: psycopg.OperationalError, config: ConnectionConfig, dbname: str) -> ConnectStageError:
    message = _server_message(exc, config.password)
    lower = message.lower()
    user, where = config.user, address(config)
    if "password authentication failed" in lower:
        return ConnectStageError(
            AUTHENTICATION, f"password authentication failed for user '{user}'",
            hint=f"Check the user name and password; PostgreSQL gives the same answer when role '{user}' does "
                 f"not exist or has no password (ALTER ROLE {ident(user)} WITH LOGIN PASSWORD '...').")
    if "no pg_hba.conf entry" in lower:
        return ConnectStageError(
            AUTHENTICATION, f"the server has no pg_hba.conf rule for this client: {message}",
            hint=f"Add a line such as 'host {dbname} {user} <DTS worker address>/32 scram-sha-256' to "
                 "pg_hba.conf on the server and reload it (SELECT pg_reload_conf();).")
    if re.search(r'role ".*" does not exist', lower):
        return ConnectStageError(
            AUTHENTICATION, f"role '{user}' does not exist",
            hint=f"Create it: CREATE ROLE {ident(user)} WITH LOGIN PASSWORD '...'; or fix the user name.")
    if re.search(r'database ".*" does not exist', lower):
        return ConnectStageError(
            DATABASE, f"database '{dbname}' does not exist",
            hint=f"Fix the database name (\\l in psql lists them), or create it: CREATE DATABASE {ident(dbname)};")
    if "permission denied for database" in lower or "connect privilege" in lower:
        return ConnectStageError(
            DATABASE, f"user '{user}' may not connect to database '{dbname}'",
            hint=f"Run: GRANT CONNECT ON DATABASE {ident(dbname)} TO {ident(user)};")
    if "timeout expired" in lower:
        return ConnectStageError(
            REACHABLE, f"TCP connection to {where} opened, but the PostgreSQL login did not finish within "
                       f"{config.connect_timeout:g}s",
            hint=f"Check that {config.port} is this server's PostgreSQL port and not another service, or a proxy "
                 "or firewall that accepts connections and holds them.")
    # libpq's words for a peer that does not speak the PostgreSQL protocol (checked before TLS errors,
    # which a non-PostgreSQL peer also causes).
    if any(marker in lower for marker in NOT_POSTGRES_MARKERS):
        return ConnectStageError(
            REACHABLE, f"{where} did not answer as a PostgreSQL server: {message}",
            hint=f"Check that {config.port} is this server's PostgreSQL port.")
    if "starting up" in lower or "shutting down" in lower or "in recovery mode" in lower:
        return ConnectStageError(REACHABLE, f"the server is not accepting logins yet: {message}",
                                 hint="Wait until the server has started, then check again.")
    if "too many" in lower or "connection slots" in lower:
        return ConnectStageError(
            AUTHENTICATION, f"the server refused the login: {message}",
            hint="Close idle connections or raise max_connections on the server, then check again.")
    if "ssl" in lower:
        return ConnectStageError(
            AUTHENTICATION, f"TLS negotiation failed: {message}",
            hint="Set the datasource option \"sslmode\" to what the server supports (e.g. \"require\" or "
                 "\"disable\").")
    if "no password supplied" in lower:
        return ConnectStageError(AUTHENTICATION, f"the server asked for a password for '{user}' and none is set",
                                 hint="Set the datasource's password.")
    return ConnectStageError(AUTHENTICATION, f"login as '{user}' failed: {message}",
                             hint="Check the user name, password and the server's pg_hba.conf rules.")


def _ssl_params(options: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if options.get("sslmode"):
        params["sslmode"] = str(options["sslmode"])
    elif options.get("ssl"):
        params["sslmode"] = "require"
    if options.get("sslrootcert"):
        params["sslrootcert"] = str(options["sslrootcert"])
    return params


def open_connection(config: ConnectionConfig, *, query_timeout: float, dbname: str | None = None,
                    probe: bool = True) -> psycopg.Connection[tuple[Any, ...]]:
    """Log in to dbname (default: the configured database) and return an autocommit connection."""
    if probe:
        probe_tcp(config)
    name = dbname or database_name(config)
    log.debug("connecting to postgresql %s/%s as %s", address(config), name, config.user)
    try:
        conn = psycopg.connect(
            host=config.host, port=config.port, user=config.user, password=config.password, dbname=name,
            # libpq's connect_timeout is whole seconds and at least 2.
            connect_timeout=max(2, math.ceil(config.connect_timeout)), autocommit=True,
            application_name="dts", **_ssl_params(config.options))
    except psycopg.OperationalError as exc:
        raise _login_error(exc, config, name) from exc
    try:
        conn.execute("SELECT set_config('statement_timeout', %s, false)", [str(int(query_timeout * 1000))])
    except psycopg.Error:
        conn.close()
        raise
    return conn
