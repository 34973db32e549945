"""Pre-flight checks for PostgreSQL: can we log in, decode WAL logically, read and write?

Each check after login is a method returning (status, detail, hint); run() records it under the
name and title listed in CHECKS. A failed login records the rest as skipped. When only the
database is missing, the server-wide checks still run over a connection to 'postgres' and the
database-specific ones are skipped. A query error inside one check fails only that check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from connectors.base import CheckReport, CheckScope, CheckStatus
from connectors.config import ConnectionConfig
from connectors.postgresql.catalog import user_schemas
from connectors.postgresql.connection import (
    DATABASE,
    DEFAULT_DATABASE,
    REACHABLE,
    ConnectStageError,
    address,
    database_name,
    ident,
    literal,
    open_connection,
    redact,
)

log = logging.getLogger(__name__)

CONNECTION = CheckScope.CONNECTION
SOURCE = CheckScope.SOURCE
SINK = CheckScope.SINK

CHECKS: list[tuple[str, str, CheckScope]] = [
    ("reachable", "Server reachable", CONNECTION),
    ("authentication", "Login accepted", CONNECTION),
    ("database", "Database exists", CONNECTION),
    ("version", "Server version", CONNECTION),
    ("wal_level", "WAL level is logical", SOURCE),
    ("replication_privilege", "Replication privilege", SOURCE),
    ("replication_slots", "Free replication slots", SOURCE),
    ("wal_senders", "Free WAL senders", SOURCE),
    ("select_grant", "Read privilege", SOURCE),
    ("orphaned_slots", "Orphaned DTS replication slots", SOURCE),
    ("write_grants", "Write privileges", SINK),
]
# Checks that need a connection to the configured database itself.
DATABASE_CHECKS = frozenset({"select_grant", "write_grants"})
SLOT_PREFIX = "dts_"

Outcome = tuple[CheckStatus, str, str]
PASSED = CheckStatus.PASSED
WARNING = CheckStatus.WARNING
FAILED = CheckStatus.FAILED


def query_timeout(config: ConnectionConfig) -> float:
    """Check queries are trivial: a server that cannot answer one within this is reported, not waited on."""
    return max(10.0, 2 * config.connect_timeout)


def format_bytes(count: float | None) -> str:
    if count is None:
        return "unknown"
    value = float(count)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


class PostgreSQLCheck:
    """One run of every check against one server."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self.report = CheckReport(engine=config.engine or "postgresql")
        self.conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self.database_ok = True
        self.version_num = 0

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
        where = address(config)
        dbname = database_name(config)
        timeout = query_timeout(config)
        database_error: ConnectStageError | None = None
        try:
            self.conn = open_connection(config, query_timeout=timeout)
        except ConnectStageError as exc:
            if exc.stage == REACHABLE:
                self._add("reachable", FAILED, exc.detail, exc.hint)
                self.report.skip_rest(self._after("reachable"), f"not checked: {where} is not reachable")
                return self.report
            self._add("reachable", PASSED, f"{where} accepted a connection")
            if exc.stage != DATABASE:
                self._add("authentication", FAILED, exc.detail, exc.hint)
                self.report.skip_rest(self._after("authentication"),
                                      f"not checked: could not log in as '{config.user}'")
                return self.report
            database_error = exc
        if database_error is not None:
            # Server-wide facts do not depend on the database: read them over another one.
            self.database_ok = False
            fallback = DEFAULT_DATABASE if dbname != DEFAULT_DATABASE else "template1"
            try:
                self.conn = open_connection(config, query_timeout=timeout, dbname=fallback, probe=False)
            except ConnectStageError as exc:
                self._add("authentication", PASSED, f"password accepted for '{config.user}'")
                self._add("database", FAILED, database_error.detail, database_error.hint)
                self.report.skip_rest(self._after("database"),
                                      f"not checked: database '{dbname}' is unusable and connecting to "
                                      f"'{fallback}' failed too ({exc.detail})")
                return self.report
        else:
            self._add("reachable", PASSED, f"{where} accepted a connection")
        assert self.conn is not None
        try:
            self._run_logged_in(database_error)
        finally:
            self.conn.close()
        return self.report

    def _run_logged_in(self, database_error: ConnectStageError | None) -> None:
        steps: list[tuple[str, Callable[[], Outcome]]] = [
            ("authentication", self.check_authentication),
            ("database", lambda: self.check_database(database_error)),
            ("version", self.check_version),
            ("wal_level", self.check_wal_level),
            ("replication_privilege", self.check_replication_privilege),
            ("replication_slots", self.check_replication_slots),
            ("wal_senders", self.check_wal_senders),
            ("select_grant", self.check_select_grant),
            ("orphaned_slots", self.check_orphaned_slots),
            ("write_grants", self.check_write_grants),
        ]
        for name, step in steps:
            if name in DATABASE_CHECKS and not self.database_ok:
                self._add(name, CheckStatus.SKIPPED,
                          f"not checked: database '{database_name(self.config)}' is unusable")
                continue
            try:
                status, detail, hint = step()
            except psycopg.OperationalError as exc:
                # A dropped connection or a query timeout: later checks would fail the same way.
                message = redact(" ".join(str(exc).split()), self.config.password)
                self._add(name, FAILED, f"the server did not answer: {message}",
                          "Check the server and the network, then run the check again.")
                self.report.skip_rest(self._after(name), "not checked: the connection was lost")
                return
            except psycopg.Error as exc:
                message = redact(" ".join(str(exc).split()), self.config.password)
                log.info("postgresql check %s failed on %s: %s", name, address(self.config), message)
                self._add(name, FAILED, f"could not check: {message}",
                          f"Make sure '{self.config.user}' may run the queries this check needs.")
                continue
            self._add(name, status, detail, hint)

    def _one(self, query: str | sql.SQL | sql.Composed, params: Any = None) -> tuple[Any, ...]:
        assert self.conn is not None
        row = self.conn.execute(query, params).fetchone()
        assert row is not None, query
        return row

    def _all(self, query: str | sql.SQL | sql.Composed, params: Any = None) -> list[tuple[Any, ...]]:
        assert self.conn is not None
        return self.conn.execute(query, params).fetchall()

    @property
    def user(self) -> str:
        return self.config.user

    # -- connection checks -----------------------------------------------------------------------------

    def check_authentication(self) -> Outcome:
        (current, superuser) = self._one("SELECT current_user, current_setting('is_superuser')")
        return PASSED, f"logged in as '{current}'{' (superuser)' if superuser == 'on' else ''}", ""

    def check_database(self, database_error: ConnectStageError | None) -> Outcome:
        if database_error is not None:
            return FAILED, database_error.detail, database_error.hint
        name = self._one("SELECT current_database()")[0]
        if not self.config.database:
            return PASSED, f"no database set: using '{name}'", ""
        return PASSED, f"database '{name}' exists", ""

    def check_version(self) -> Outcome:
        version, number = self._one("SELECT current_setting('server_version'), "
                                    "current_setting('server_version_num')::int")
        self.version_num = int(number)
        self.report.server_version = f"PostgreSQL {version}"
        if self.version_num < 100000:
            return (WARNING, f"PostgreSQL {version} is older than 10",
                    "Upgrade to PostgreSQL 10 or later: change capture uses the pgoutput plugin, which needs 10+.")
        return PASSED, f"PostgreSQL {version}", ""

    # -- source checks ---------------------------------------------------------------------------------

    def check_wal_level(self) -> Outcome:
        (level,) = self._one("SELECT current_setting('wal_level')")
        if level == "logical":
            return PASSED, "wal_level=logical", ""
        return (FAILED, f"wal_level={level}: the WAL does not carry what logical decoding needs",
                "Run ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL (on a managed service, set "
                "the equivalent parameter, e.g. rds.logical_replication=1 or cloudsql.logical_decoding=on).")

    def check_replication_privilege(self) -> Outcome:
        replication, superuser, rds = self._one(
            "SELECT r.rolreplication, r.rolsuper, "
            # Amazon RDS grants replication through membership of rds_replication instead.
            "EXISTS (SELECT 1 FROM pg_roles m WHERE m.rolname = 'rds_replication' "
            "AND pg_has_role(current_user, m.oid, 'MEMBER')) "
            "FROM pg_roles r WHERE r.rolname = current_user")
        if superuser:
            return PASSED, f"'{self.user}' is a superuser", ""
        if replication:
            return PASSED, f"'{self.user}' has the REPLICATION attribute", ""
        if rds:
            return PASSED, f"'{self.user}' is a member of rds_replication", ""
        return (FAILED, f"'{self.user}' has neither REPLICATION nor superuser, so it cannot create replication slots",
                f"Run as a superuser: ALTER ROLE {ident(self.user)} WITH REPLICATION;")

    def check_replication_slots(self) -> Outcome:
        maximum, used = self._one("SELECT current_setting('max_replication_slots')::int, "
                                  "(SELECT count(*) FROM pg_replication_slots)")
        free = int(maximum) - int(used)
        detail = f"{free} of max_replication_slots={maximum} free ({used} in use)"
        raise_hint = (f"Drop slots nobody uses (SELECT pg_drop_replication_slot('<name>');) or raise "
                      f"max_replication_slots (ALTER SYSTEM SET max_replication_slots = {int(maximum) + 4}; "
                      "then restart). Each pipeline needs one slot.")
        if free <= 0:
            return FAILED, detail, raise_hint
        if free == 1:
            return WARNING, f"{detail}: room for one more pipeline only", raise_hint
        return PASSED, detail, ""

    def check_wal_senders(self) -> Outcome:
        maximum, used = self._one("SELECT current_setting('max_wal_senders')::int, "
                                  "(SELECT count(*) FROM pg_stat_replication)")
        detail = f"{used} of max_wal_senders={maximum} in use"
        if int(maximum) > int(used):
            return PASSED, detail, ""
        return (FAILED, f"{detail}: no WAL sender left for change capture",
                f"Raise max_wal_senders (ALTER SYSTEM SET max_wal_senders = {int(maximum) + 4}; then restart).")

    def check_select_grant(self) -> Outcome:
        dbname = database_name(self.config)
        can_connect, schemas = self._one(sql.SQL(
            "SELECT has_database_privilege(current_database(), 'CONNECT'), "
            "ARRAY(SELECT nspname::text FROM pg_namespace WHERE {schemas} "
            "AND has_schema_privilege(oid, 'USAGE') ORDER BY nspname)").format(schemas=user_schemas()))
        if not can_connect:
            return (FAILED, f"'{self.user}' lacks CONNECT on database '{dbname}'",
                    f"Run: GRANT CONNECT ON DATABASE {ident(dbname)} TO {ident(self.user)};")
        if not schemas:
            return (FAILED, f"'{self.user}' has USAGE on no schema of '{dbname}'",
                    f"Run: GRANT USAGE ON SCHEMA public TO {ident(self.user)}; "
                    f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ident(self.user)};")
        total, readable = self._one(
            "SELECT count(*), count(*) FILTER (WHERE has_table_privilege(c.oid, 'SELECT')) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v') AND n.nspname = ANY(%s)", [list(schemas)])
        shown = ", ".join(schemas[:10]) + (", ..." if len(schemas) > 10 else "")
        detail = f"CONNECT on '{dbname}'; USAGE on schema(s) {shown}; can read {readable} of {total} table(s)"
        if total and not readable:
            schema = schemas[0]
            return (WARNING, detail,
                    f"Run: GRANT SELECT ON ALL TABLES IN SCHEMA {ident(schema)} TO {ident(self.user)}; and, for "
                    f"tables created later, ALTER DEFAULT PRIVILEGES IN SCHEMA {ident(schema)} GRANT SELECT ON "
                    f"TABLES TO {ident(self.user)};")
        return PASSED, detail, ""

    def check_orphaned_slots(self) -> Outcome:
        # PostgreSQL 10 renamed the xlog functions to wal ones.
        retained = (sql.SQL("pg_xlog_location_diff(pg_current_xlog_location(), restart_lsn)")
                    if self.version_num and self.version_num < 100000
                    else sql.SQL("pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)"))
        rows = self._all(sql.SQL(
            "SELECT slot_name::text, {retained} FROM pg_replication_slots "
            "WHERE slot_type = 'logical' AND NOT active AND left(slot_name, %s) = %s ORDER BY slot_name").format(
                retained=retained), [len(SLOT_PREFIX), SLOT_PREFIX])
        if not rows:
            return PASSED, f"no inactive logical slots named {SLOT_PREFIX}*", ""
        listed = ", ".join(f"{name} ({format_bytes(retained)} of WAL retained)" for name, retained in rows)
        drops = " ".join(f"SELECT pg_drop_replication_slot({literal(name)});" for name, _ in rows)
        return (WARNING, f"{len(rows)} inactive DTS slot(s) keep WAL on the server: {listed}",
                f"If no pipeline uses them any more, drop them: {drops}")

    # -- sink checks -----------------------------------------------------------------------------------

    def check_write_grants(self) -> Outcome:
        dbname = database_name(self.config)
        on_database, schemas = self._one(sql.SQL(
            "SELECT has_database_privilege(current_database(), 'CREATE'), "
            "ARRAY(SELECT nspname::text FROM pg_namespace WHERE {schemas} "
            "AND has_schema_privilege(oid, 'CREATE') ORDER BY nspname)").format(schemas=user_schemas()))
        if on_database:
            return PASSED, f"CREATE on database '{dbname}' (may create schemas)", ""
        if schemas:
            return PASSED, f"CREATE on schema(s): {', '.join(schemas[:10])}", ""
        return (FAILED, f"'{self.user}' may create neither schemas in '{dbname}' nor tables in any schema",
                f"Run: GRANT CREATE ON DATABASE {ident(dbname)} TO {ident(self.user)}; "
                f"or GRANT CREATE ON SCHEMA public TO {ident(self.user)};")


def run_checks(config: ConnectionConfig) -> CheckReport:
    return PostgreSQLCheck(config).run()
