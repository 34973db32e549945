"""Opening a pymysql connection within bounded waits, and naming the stage at which it failed.

Every wait is bounded: the TCP connect and the server's greeting by config.connect_timeout (so a
blackholed host, or a port that accepts TCP but never speaks MySQL, fails fast), every later read
and write by the caller's query timeout. Failures become ConnectStageError, a ConnectionFailed
that also says which pre-flight item it belongs to: reachable, authentication or database.

Options read from ConnectionConfig.options: "ssl" (true: encrypt, without verifying the
certificate), "ssl_ca" (path: encrypt and verify against that CA), "charset" (default utf8mb4).
"""

from __future__ import annotations

import logging
import socket
import struct
from typing import Any

import pymysql

from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed

log = logging.getLogger(__name__)

MIN_REDACTED_LENGTH = 4

REACHABLE = "reachable"
AUTHENTICATION = "authentication"
DATABASE = "database"

# Packet header (4 bytes) and the first payload byte: the protocol version, or 0xFF for an error.
GREETING_HEADER = 5

# Client-side codes pymysql uses when the socket dies or times out mid-conversation.
CONNECTION_LOST_CODES = frozenset({2003, 2006, 2013, 2055})


class ConnectStageError(ConnectionFailed):
    """A connection attempt failed; stage says which check it belongs to."""

    def __init__(self, stage: str, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.stage = stage

    @property
    def detail(self) -> str:
        return str(self.args[0])


def quote_ident(name: str) -> str:
    """Backtick-quote a MySQL identifier (database, table, column)."""
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    """A MySQL string literal, for the SQL we print in hints."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def account_sql(user: str, host: str = "%") -> str:
    """How GRANT statements spell an account: 'user'@'host'."""
    return f"{quote_string(user)}@{quote_string(host)}"


def redact(text: str, secret: str) -> str:
    """Remove a secret from text that came from elsewhere (a server message), just in case.

    Very short secrets are left alone: masking every 'p' in a message would hide it, not protect it.
    """
    return text.replace(secret, "***") if len(secret) >= MIN_REDACTED_LENGTH else text


def address(config: ConnectionConfig) -> str:
    return f"{config.host}:{config.port}"


def error_code(exc: BaseException) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def error_message(exc: BaseException, secret: str) -> str:
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    return redact(text, secret)


def is_connection_lost(exc: BaseException) -> bool:
    return error_code(exc) in CONNECTION_LOST_CODES


def open_socket(config: ConnectionConfig) -> socket.socket:
    """TCP-connect and wait for the server to speak first, both within connect_timeout."""
    where = address(config)
    timeout = config.connect_timeout
    try:
        sock = socket.create_connection((config.host, config.port), timeout=timeout)
    except socket.gaierror as exc:
        raise ConnectStageError(
            REACHABLE, f"cannot resolve the host name '{config.host}' ({exc.strerror})",
            hint="Check the host name for typos, and that the DTS worker's DNS can resolve it "
                 f"(e.g. 'getent hosts {config.host}' on the worker).") from exc
    except ConnectionRefusedError as exc:
        raise ConnectStageError(
            REACHABLE, f"connection to {where} refused: nothing is listening on that port",
            hint="Check the port (MySQL's default is 3306) and that the server is running and listening "
                 "on a network address (bind_address, skip_networking in my.cnf), not only on a local socket.",
        ) from exc
    except TimeoutError as exc:
        raise ConnectStageError(
            REACHABLE, f"no answer from {where} within {timeout:g}s (connection timed out)",
            hint=f"Check the host address, and that firewalls or security groups let the DTS worker reach "
                 f"TCP port {config.port}.") from exc
    except OSError as exc:
        raise ConnectStageError(
            REACHABLE, f"cannot connect to {where}: {exc.strerror or exc}",
            hint="Check the host address and the network route from the DTS worker to the server.") from exc
    # MySQL speaks first: no greeting within the timeout means this is not (or not only) MySQL.
    # Peek, so that pymysql still reads the greeting from the start.
    try:
        sock.settimeout(timeout)
        first = sock.recv(GREETING_HEADER, socket.MSG_PEEK | socket.MSG_WAITALL)
    except TimeoutError as exc:
        sock.close()
        raise ConnectStageError(
            REACHABLE, f"TCP connection to {where} opened, but no MySQL greeting arrived within {timeout:g}s",
            hint=f"Check that {config.port} is this server's MySQL port and not another service, or a proxy "
                 "or firewall that accepts connections and holds them.") from exc
    except OSError as exc:
        sock.close()
        raise ConnectStageError(
            REACHABLE, f"connection to {where} was reset before the MySQL greeting ({exc.strerror or exc})",
            hint=f"Check that {config.port} is this server's MySQL port and that the server accepts this client.",
        ) from exc
    if not first:
        sock.close()
        raise ConnectStageError(
            REACHABLE, f"{where} closed the connection without sending a MySQL greeting",
            hint=f"Check that {config.port} is this server's MySQL port; the server may also be refusing this "
                 "client (max_connect_errors, a firewall or a TLS-only proxy).")
    if not looks_like_greeting(first):
        sock.close()
        raise ConnectStageError(
            REACHABLE, f"{where} answered, but not with a MySQL greeting (it sent {first[:16]!r})",
            hint=f"Check that {config.port} is this server's MySQL port and not another service.")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return sock


def looks_like_greeting(data: bytes) -> bool:
    """A MySQL packet header (3-byte length, sequence 0) then protocol version 10, or an error packet."""
    if len(data) < GREETING_HEADER:
        return False
    length = int.from_bytes(data[:3], "little")
    return length > 0 and data[3] == 0 and data[4] in (10, 0xFF)


def _ssl(options: dict[str, Any]) -> dict[str, Any] | None:
    if options.get("ssl_ca"):
        return {"ca": str(options["ssl_ca"])}  # verifies the certificate and host name
    if options.get("ssl"):
        return {"check_hostname": False}  # encrypted; without a CA there is nothing to verify against
    return None


def open_connection(config: ConnectionConfig, *, query_timeout: float) -> Any:
    """Log in (no database selected) and return an autocommit pymysql connection."""
    sock = open_socket(config)
    conn = pymysql.connections.Connection(
        host=config.host, port=config.port, user=config.user, password=config.password,
        charset=str(config.options.get("charset", "utf8mb4")), autocommit=True,
        connect_timeout=config.connect_timeout, read_timeout=query_timeout, write_timeout=query_timeout,
        ssl=_ssl(config.options), defer_connect=True, program_name="dts",
    )
    log.debug("connecting to mysql %s as %s", address(config), config.user)
    try:
        conn.connect(sock)
    except pymysql.err.MySQLError as exc:
        sock.close()
        raise _login_error(exc, config) from exc
    except (struct.error, IndexError, UnicodeDecodeError) as exc:  # pymysql parsing a malformed greeting
        sock.close()
        raise ConnectStageError(
            REACHABLE, f"{address(config)} sent a greeting pymysql could not parse ({type(exc).__name__}: {exc})",
            hint=f"Check that {config.port} is this server's MySQL port and not another service.") from exc
    except RuntimeError as exc:  # pymysql: an auth plugin needs the 'cryptography' package
        sock.close()
        raise ConnectStageError(
            AUTHENTICATION, f"the server asked for an authentication method this client cannot use: {exc}",
            hint="Install the 'cryptography' package on the DTS worker, or enable TLS with the "
                 "option {\"ssl\": true}.") from exc
    return conn


def _login_error(exc: pymysql.err.MySQLError, config: ConnectionConfig) -> ConnectStageError:
    code = error_code(exc)
    message = error_message(exc, config.password)
    user = config.user
    where = address(config)
    if code in CONNECTION_LOST_CODES:
        return ConnectStageError(
            REACHABLE, f"{where} dropped the connection during the MySQL handshake: {message}",
            hint=f"Check that {config.port} is this server's MySQL port, and whether the server requires TLS "
                 "(set the option {\"ssl\": true}).")
    if code == 1045:
        return ConnectStageError(
            AUTHENTICATION, f"access denied for user '{user}' (server said: {message})",
            hint=f"Check the user name and password. MySQL accounts are 'user'@'host': an account for "
                 f"'{user}' must exist whose host part matches the address the DTS worker connects from "
                 "(the rows for this user in mysql.user list them).")
    if code == 1130:
        return ConnectStageError(
            AUTHENTICATION, f"the server does not let this host log in as any account: {message}",
            hint=f"Create the account for the DTS worker's address, e.g. CREATE USER {account_sql(user)} "
                 "IDENTIFIED BY '...'; ('%' allows any host).")
    if code == 1129:
        return ConnectStageError(
            AUTHENTICATION, f"the server has blocked this host after too many connection errors: {message}",
            hint="Run FLUSH HOSTS (or 'mysqladmin flush-hosts') on the server, and raise max_connect_errors.")
    if code == 1040:
        return ConnectStageError(
            AUTHENTICATION, f"the server refused the login: too many connections ({message})",
            hint="Close idle connections or raise max_connections on the server, then check again.")
    if code in (2059, 1251):
        return ConnectStageError(
            AUTHENTICATION, f"authentication method not supported: {message}",
            hint=f"Use mysql_native_password or caching_sha2_password for '{user}' "
                 f"(ALTER USER {account_sql(user)} IDENTIFIED WITH ... BY '...').")
    if code == 3159 or "secure transport" in message.lower():
        return ConnectStageError(
            AUTHENTICATION, f"the server requires TLS: {message}",
            hint="Enable TLS for this datasource with the option {\"ssl\": true} (or \"ssl_ca\").")
    return ConnectStageError(
        AUTHENTICATION, f"login as '{user}' failed: {message}" + (f" (error {code})" if code else ""),
        hint="Check the user name, password and the account's allowed host.")


def select_database(conn: Any, config: ConnectionConfig) -> None:
    """USE the configured database; raises ConnectStageError(DATABASE) when it is missing or off-limits."""
    name = config.database
    try:
        conn.select_db(name)
    except pymysql.err.MySQLError as exc:
        if is_connection_lost(exc):
            raise
        code = error_code(exc)
        message = error_message(exc, config.password)
        create = f"CREATE DATABASE {quote_ident(name)} CHARACTER SET utf8mb4;"
        if code == 1049:
            raise ConnectStageError(
                DATABASE, f"database '{name}' does not exist",
                hint=f"Fix the database name (SHOW DATABASES lists those '{config.user}' can see), "
                     f"or create it: {create}") from exc
        if code == 1044:
            raise ConnectStageError(
                DATABASE, f"user '{config.user}' may not use database '{name}', or it does not exist",
                hint=f"Grant access: GRANT SELECT ON {quote_ident(name)}.* TO {account_sql(config.user)}; "
                     f"or create it: {create} (or fix the name).") from exc
        raise ConnectStageError(DATABASE, f"cannot use database '{name}': {message}",
                                hint="Check the database name and the user's privileges on it.") from exc


def close(conn: Any) -> None:
    """Close unless already closed: pymysql raises on a second close, and a dropped link is already closed."""
    if conn.open:
        conn.close()


def connect(config: ConnectionConfig, *, query_timeout: float) -> Any:
    """Log in and USE config.database (when set); every failure is a ConnectionFailed."""
    conn = open_connection(config, query_timeout=query_timeout)
    if config.database:
        try:
            select_database(conn, config)
        except pymysql.err.MySQLError as exc:
            close(conn)
            raise ConnectStageError(DATABASE, f"lost the connection to {address(config)}: "
                                    f"{error_message(exc, config.password)}",
                                    hint="Check the server and network, then try again.") from exc
        except ConnectionFailed:
            close(conn)
            raise
    return conn
