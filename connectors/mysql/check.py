"""Pre-flight checks for MySQL 5.7/8 and MariaDB: can we log in, read the binlog, read and write?

Each check after login is a method returning (status, detail, hint); run() records it under the
name and title listed in CHECKS, so the report always has every item in the same order. A failed
login records the rest as skipped; a query error inside one check fails only that check (and, if
the connection dropped, skips the rest).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import cached_property
from typing import Any

import pymysql

from connectors.base import CheckReport, CheckScope, CheckStatus
from connectors.config import ConnectionConfig
from connectors.mysql.connection import (
    REACHABLE,
    ConnectStageError,
    account_sql,
    address,
    close,
    error_message,
    is_connection_lost,
    open_connection,
    quote_ident,
    select_database,
)
from connectors.mysql.grants import REPLICATION_CLIENT_NAMES, Privileges

log = logging.getLogger(__name__)

CONNECTION = CheckScope.CONNECTION
SOURCE = CheckScope.SOURCE
SINK = CheckScope.SINK

CHECKS: list[tuple[str, str, CheckScope]] = [
    ("reachable", "Server reachable", CONNECTION),
    ("authentication", "Login accepted", CONNECTION),
    ("database", "Database exists", CONNECTION),
    ("version", "Server version", CONNECTION),
    ("log_bin", "Binary log enabled", SOURCE),
    ("binlog_format", "Binary log format is ROW", SOURCE),
    ("binlog_row_image", "Binary log has full row images", SOURCE),
    ("binlog_row_metadata", "Binary log has full row metadata", SOURCE),
    ("server_id", "Server ID is set", SOURCE),
    ("replication_grants", "Replication privileges", SOURCE),
    ("select_grant", "Read privilege", SOURCE),
    ("binlog_retention", "Binary log retention", SOURCE),
    ("gtid", "GTID", SOURCE),
    ("write_grants", "Write privileges", SINK),
]

WRITE_PRIVILEGES = ("CREATE", "ALTER", "INSERT", "UPDATE", "DELETE", "DROP")
VARIABLES = ("log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "server_id",
             "binlog_expire_logs_seconds", "expire_logs_days", "gtid_binlog_pos", "gtid_strict_mode",
             "gtid_mode", "enforce_gtid_consistency")
MIN_RETENTION_SECONDS = 24 * 3600

Outcome = tuple[CheckStatus, str, str]
PASSED = CheckStatus.PASSED
WARNING = CheckStatus.WARNING
FAILED = CheckStatus.FAILED


def query_timeout(config: ConnectionConfig) -> float:
    """Check queries are trivial: a server that cannot answer one within this is reported, not waited on."""
    return max(10.0, 2 * config.connect_timeout)


def parse_version(text: str) -> tuple[int, int, int]:
    # MariaDB before 11 may prefix the handshake version with "5.5.5-" for old clients.
    match = re.match(r"(?:5\.5\.5-)?(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        return (0, 0, 0)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in
             ((days, "day"), (hours, "hour"), (minutes, "minute")) if n]
    return " ".join(parts) or f"{seconds} seconds"


def _cnf_hint(setting: str, value: str, *, per_session: bool = True) -> str:
    """How to fix a dynamic server variable now and keep it after a restart."""
    # Session-scoped variables are copied into each connection when it opens: existing ones keep the old value.
    applies = " (connections opened afterwards use it)" if per_session else ""
    return (f"Run SET GLOBAL {setting} = '{value}'{applies} and add {setting}={value} to the [mysqld] section of "
            "my.cnf so it survives a restart.")


class MySQLCheck:
    """One run of every check against one server."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self.report = CheckReport(engine=config.engine or "mysql")
        self.conn: Any = None
        self.version: tuple[int, int, int] = (0, 0, 0)
        self.flavor = "MySQL"

    # -- running ---------------------------------------------------------------------------------------

    def _add(self, name: str, status: CheckStatus, detail: str, hint: str = "") -> None:
        title, scope = self._meta(name)
        self.report.add(name, title, status, detail, hint, scope)

    @staticmethod
    def _meta(name: str) -> tuple[str, CheckScope]:
        for check_name, title, scope in CHECKS:
            if check_name == name:
                return title, scope
        raise KeyError(name)

    @staticmethod
    def _after(name: str) -> list[tuple[str, str, CheckScope]]:
        names = [c[0] for c in CHECKS]
        return CHECKS[names.index(name) + 1:]

    def run(self) -> CheckReport:
        config = self.config
        try:
            self.conn = open_connection(config, query_timeout=query_timeout(config))
        except ConnectStageError as exc:
            if exc.stage == REACHABLE:
                self._add("reachable", FAILED, exc.detail, exc.hint)
                self.report.skip_rest(self._after("reachable"), f"not checked: {address(config)} is not reachable")
            else:
                self._add("reachable", PASSED, f"{address(config)} answered with a MySQL greeting")
                self._add("authentication", FAILED, exc.detail, exc.hint)
                self.report.skip_rest(self._after("authentication"),
                                      f"not checked: could not log in as '{config.user}'")
            return self.report
        try:
            self._add("reachable", PASSED, f"{address(config)} answered with a MySQL greeting")
            self._run_logged_in()
        finally:
            close(self.conn)
        return self.report

    def _run_logged_in(self) -> None:
        steps: list[tuple[str, Callable[[], Outcome]]] = [
            ("authentication", self.check_authentication),
            ("database", self.check_database),
            ("version", self.check_version),
            ("log_bin", self.check_log_bin),
            ("binlog_format", self.check_binlog_format),
            ("binlog_row_image", self.check_binlog_row_image),
            ("binlog_row_metadata", self.check_binlog_row_metadata),
            ("server_id", self.check_server_id),
            ("replication_grants", self.check_replication_grants),
            ("select_grant", self.check_select_grant),
            ("binlog_retention", self.check_binlog_retention),
            ("gtid", self.check_gtid),
            ("write_grants", self.check_write_grants),
        ]
        for name, step in steps:
            try:
                status, detail, hint = step()
            except pymysql.err.MySQLError as exc:
                message = error_message(exc, self.config.password)
                if is_connection_lost(exc):
                    self._add(name, FAILED, f"lost the connection to {address(self.config)}: {message}",
                              "Check the server and the network, then run the check again.")
                    self.report.skip_rest(self._after(name), "not checked: the connection was lost")
                    return
                log.info("mysql check %s failed on %s: %s", name, address(self.config), message)
                self._add(name, FAILED, f"could not check: {message}",
                          f"Make sure '{self.config.user}' may run the statements this check needs.")
                continue
            self._add(name, status, detail, hint)

    # -- server facts, read once ---------------------------------------------------------------------

    def _query(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    @cached_property
    def account(self) -> tuple[str, str]:
        """The account the server matched the login to (user, host), e.g. ('dts', '%')."""
        (current,) = self._query("SELECT CURRENT_USER()")[0]
        user, _, host = str(current).rpartition("@")
        return (user or self.config.user), host or "%"

    @property
    def account_sql(self) -> str:
        return account_sql(*self.account)

    @cached_property
    def variables(self) -> dict[str, str]:
        placeholders = ", ".join(["%s"] * len(VARIABLES))
        rows = self._query(f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({placeholders})", VARIABLES)
        return {str(name).lower(): "" if value is None else str(value) for name, value in rows}

    @cached_property
    def privileges(self) -> Privileges:
        lines = [str(row[0]) for row in self._query("SHOW GRANTS")]
        if self.flavor == "MySQL" and self.version >= (8, 0, 0):
            # MySQL 8 lists a role's privileges only when asked with USING the active roles.
            lines += self._active_role_grants()
        return Privileges.from_show_grants(lines)

    def _active_role_grants(self) -> list[str]:
        (roles,) = self._query("SELECT CURRENT_ROLE()")[0]
        if not roles or str(roles).upper() == "NONE":
            return []
        # CURRENT_ROLE() returns the active roles already quoted, e.g. `reader`@`%`,`writer`@`%`.
        try:
            return [str(row[0]) for row in self._query(f"SHOW GRANTS FOR CURRENT_USER() USING {roles}")]
        except pymysql.err.MySQLError as exc:
            if is_connection_lost(exc):
                raise
            # The account's own grants still count; say why role privileges may be missing.
            log.info("SHOW GRANTS ... USING %s failed on %s: %s", roles, address(self.config),
                     error_message(exc, self.config.password))
            return []

    @property
    def mariadb(self) -> bool:
        return self.flavor == "MariaDB"

    @property
    def client_privilege(self) -> str:
        """What the binlog-status privilege is called on this server."""
        return "BINLOG MONITOR" if self.mariadb and self.version >= (10, 5, 0) else "REPLICATION CLIENT"

    # -- connection checks -----------------------------------------------------------------------------

    def check_authentication(self) -> Outcome:
        user, host = self.account
        return PASSED, f"logged in as '{user}'@'{host}'", ""

    def check_database(self) -> Outcome:
        if not self.config.database:
            return PASSED, "no database set: every database the user can see is used", ""
        try:
            select_database(self.conn, self.config)
        except ConnectStageError as exc:
            return FAILED, exc.detail, exc.hint
        return PASSED, f"database '{self.config.database}' exists", ""

    def check_version(self) -> Outcome:
        version, comment = self._query("SELECT VERSION(), @@version_comment")[0]
        version, comment = str(version), str(comment or "")
        self.flavor = "MariaDB" if "mariadb" in f"{version} {comment}".lower() else "MySQL"
        self.version = parse_version(version)
        self.report.server_version = version if self.flavor in version else f"{self.flavor} {version}"
        numbers = ".".join(str(n) for n in self.version)
        detail = f"{self.flavor} {numbers} ({version}{', ' + comment if comment else ''})"
        minimum = (10, 3, 0) if self.mariadb else (5, 7, 0)
        if self.version < minimum:
            wanted = "MariaDB 10.3" if self.mariadb else "MySQL 5.7"
            return (WARNING, f"{detail} is older than {wanted}, the oldest version DTS is tested with",
                    "Upgrade to MySQL 8.0+ or MariaDB 10.6+; older versions lack features change capture relies "
                    "on (e.g. full row metadata) and are out of support.")
        return PASSED, detail, ""

    # -- source checks ---------------------------------------------------------------------------------

    def check_log_bin(self) -> Outcome:
        value = self.variables.get("log_bin", "")
        if value.upper() in ("ON", "1"):
            return PASSED, "log_bin=ON", ""
        return (FAILED, f"log_bin={value or 'OFF'}: the binary log is off, so changes cannot be captured",
                "Add log_bin=mysql-bin and server_id=<a unique non-zero number> to the [mysqld] section of "
                "my.cnf and restart the server (log_bin cannot be changed at runtime).")

    def check_binlog_format(self) -> Outcome:
        value = self.variables.get("binlog_format")
        if value is None:
            return WARNING, "the server does not report binlog_format", "Make sure the server logs in ROW format."
        if value.upper() == "ROW":
            return PASSED, "binlog_format=ROW", ""
        return (FAILED, f"binlog_format={value}: change capture needs every row change logged as a row event",
                _cnf_hint("binlog_format", "ROW"))

    def check_binlog_row_image(self) -> Outcome:
        value = self.variables.get("binlog_row_image")
        if value is None:
            return (WARNING, "the server does not report binlog_row_image (older than MySQL 5.6?)",
                    "Upgrade the server; change capture needs full before and after row images.")
        if value.upper() == "FULL":
            return PASSED, "binlog_row_image=FULL", ""
        return (FAILED, f"binlog_row_image={value}: updates and deletes would not carry every column",
                _cnf_hint("binlog_row_image", "FULL"))

    def check_binlog_row_metadata(self) -> Outcome:
        supported = self.version >= ((10, 5, 0) if self.mariadb else (8, 0, 14))
        numbers = ".".join(str(n) for n in self.version)
        if not supported:
            return (PASSED, f"{self.flavor} {numbers} does not log row metadata; column names come from the "
                    "catalog", "")
        value = self.variables.get("binlog_row_metadata")
        if value is None:
            return (WARNING, "the server does not report binlog_row_metadata; column names come from the catalog",
                    "")
        if value.upper() == "FULL":
            return PASSED, "binlog_row_metadata=FULL", ""
        return (FAILED, f"binlog_row_metadata={value}: row events would not carry column names",
                _cnf_hint("binlog_row_metadata", "FULL", per_session=False))

    def check_server_id(self) -> Outcome:
        value = self.variables.get("server_id", "0")
        if value.isdigit() and int(value) != 0:
            return PASSED, f"server_id={value}", ""
        return (FAILED, f"server_id={value}: a server without an ID cannot serve the binary log",
                "Set server_id to a unique non-zero number in the [mysqld] section of my.cnf (e.g. server_id=1) "
                "and restart the server.")

    def check_replication_grants(self) -> Outcome:
        privileges = self.privileges
        missing = []
        if not privileges.has_global("REPLICATION SLAVE"):
            missing.append("REPLICATION SLAVE")
        if not privileges.has_any_global(REPLICATION_CLIENT_NAMES):
            missing.append(self.client_privilege)
        held = sorted(p for p in privileges.global_privileges
                      if p in REPLICATION_CLIENT_NAMES | {"REPLICATION SLAVE", "ALL PRIVILEGES"})
        if not missing:
            return PASSED, f"granted on *.*: {', '.join(held)}", ""
        user, host = self.account
        return (FAILED, f"'{user}'@'{host}' lacks {' and '.join(missing)} on *.* (needed to read the binary log)",
                f"Run as an administrator: GRANT {', '.join(missing)} ON *.* TO {self.account_sql};")

    def check_select_grant(self) -> Outcome:
        privileges = self.privileges
        database = self.config.database
        user, host = self.account
        if database:
            if privileges.has_on_database(database, "SELECT"):
                return PASSED, f"SELECT on {quote_ident(database)}.*", ""
            grant = f"GRANT SELECT ON {quote_ident(database)}.* TO {self.account_sql};"
            tables = privileges.tables_with(database, "SELECT")
            if tables:
                return (WARNING, f"SELECT only on {len(tables)} table(s) of '{database}': {', '.join(tables[:10])}",
                        f"To read every table, run: {grant}")
            return FAILED, f"'{user}'@'{host}' cannot SELECT from database '{database}'", f"Run: {grant}"
        if privileges.has_global("SELECT"):
            return PASSED, "SELECT on *.*", ""
        databases = privileges.databases_with(["SELECT"])
        if databases:
            return PASSED, f"SELECT on database(s): {', '.join(databases)}", ""
        tables = privileges.tables_with(None, "SELECT")
        grant = f"GRANT SELECT ON <database>.* TO {self.account_sql};"
        if tables:
            return (WARNING, f"SELECT only on {len(tables)} table(s): {', '.join(tables[:10])}",
                    f"To read whole databases, run: {grant}")
        return FAILED, f"'{user}'@'{host}' has no SELECT privilege", f"Run: {grant}"

    def check_binlog_retention(self) -> Outcome:
        seconds_text = self.variables.get("binlog_expire_logs_seconds")
        days_text = self.variables.get("expire_logs_days", "0") or "0"
        seconds = int(float(seconds_text)) if seconds_text else 0
        days = float(days_text)
        if seconds:
            effective, setting = float(seconds), f"binlog_expire_logs_seconds={seconds}"
        else:
            effective, setting = days * 86400, f"expire_logs_days={days:g}"
        if effective <= 0:
            return (PASSED, f"binary logs are never purged automatically ({setting}"
                    f"{', binlog_expire_logs_seconds=0' if seconds_text is not None else ''}); "
                    "keep an eye on disk space", "")
        if effective < MIN_RETENTION_SECONDS:
            if seconds_text is not None:
                fix = ("Run SET GLOBAL binlog_expire_logs_seconds = 604800 (7 days) and add "
                       "binlog_expire_logs_seconds=604800 to my.cnf")
            else:
                fix = "Run SET GLOBAL expire_logs_days = 7 and add expire_logs_days=7 to my.cnf"
            return (WARNING, f"binary logs are purged after {format_duration(effective)} ({setting}): a pipeline "
                    "paused for longer cannot resume", f"{fix}; keep at least 1 day.")
        return PASSED, f"binary logs are kept for {format_duration(effective)} ({setting})", ""

    def check_gtid(self) -> Outcome:
        if self.mariadb:
            position = self.variables.get("gtid_binlog_pos", "")
            strict = self.variables.get("gtid_strict_mode", "?")
            return (PASSED, f"MariaDB GTIDs are always on: gtid_binlog_pos={position or '(empty: nothing logged yet)'}"
                    f", gtid_strict_mode={strict}", "")
        mode = self.variables.get("gtid_mode")
        consistency = self.variables.get("enforce_gtid_consistency", "?")
        if mode is not None and mode.upper() == "ON":
            return PASSED, f"gtid_mode=ON, enforce_gtid_consistency={consistency}", ""
        return (WARNING, f"gtid_mode={mode or 'unsupported'}: change capture resumes from binlog file and position, "
                "which do not carry over to a replica after a failover",
                "To resume by GTID, set enforce_gtid_consistency=ON and gtid_mode=ON (on a running server step "
                "gtid_mode through OFF_PERMISSIVE and ON_PERMISSIVE), and put both in my.cnf.")

    # -- sink checks -----------------------------------------------------------------------------------

    def check_write_grants(self) -> Outcome:
        privileges = self.privileges
        database = self.config.database
        user, host = self.account
        if database:
            missing = privileges.missing_on_database(database, WRITE_PRIVILEGES)
            if not missing:
                return PASSED, f"{', '.join(WRITE_PRIVILEGES)} on {quote_ident(database)}.*", ""
            return (FAILED, f"'{user}'@'{host}' lacks {', '.join(missing)} on database '{database}'",
                    f"Run: GRANT {', '.join(missing)} ON {quote_ident(database)}.* TO {self.account_sql};")
        missing = [p for p in WRITE_PRIVILEGES if not privileges.has_global(p)]
        if not missing:
            return PASSED, f"{', '.join(WRITE_PRIVILEGES)} on *.*", ""
        databases = privileges.databases_with(WRITE_PRIVILEGES)
        if databases:
            return (WARNING, f"write privileges only on database(s): {', '.join(databases)}",
                    "Set this datasource's database to one of them, or grant them globally: "
                    f"GRANT {', '.join(missing)} ON *.* TO {self.account_sql};")
        return (FAILED, f"'{user}'@'{host}' lacks {', '.join(missing)} on *.* and on any database",
                f"Run: GRANT {', '.join(WRITE_PRIVILEGES)} ON <database>.* TO {self.account_sql}; "
                "and set that database on this datasource.")


def run_checks(config: ConnectionConfig) -> CheckReport:
    return MySQLCheck(config).run()
