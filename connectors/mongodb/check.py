"""Pre-flight checks for MongoDB: reachable, login, version, replica set, change streams, grants.

Every check is bounded by config.connect_timeout (server selection, connect, socket) and never
raises for an unmet precondition: it records an item with what was found and how to fix it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import ConfigurationError, ConnectionFailure, OperationFailure, PyMongoError

from connectors.base import CheckReport, CheckScope, CheckStatus
from connectors.config import ConnectionConfig
from connectors.mongodb import (
    SYSTEM_DATABASES,
    UNAUTHORIZED,
    MongoClientT,
    address,
    error_text,
    is_auth_failure,
)

CONNECTION, SOURCE, SINK = CheckScope.CONNECTION, CheckScope.SOURCE, CheckScope.SINK
PASSED, WARNING, FAILED = CheckStatus.PASSED, CheckStatus.WARNING, CheckStatus.FAILED

# Every check in run order, so the ones after a failed login can be recorded as skipped.
CHECKS: list[tuple[str, str, CheckScope]] = [
    ("reachable", "Server answers", CONNECTION),
    ("authentication", "Login accepted", CONNECTION),
    ("database", "Database exists or can be created", CONNECTION),
    ("version", "Server version", CONNECTION),
    ("replica_set", "Replica set (needed for change streams)", SOURCE),
    ("change_streams", "Change streams can be opened", SOURCE),
    ("read_grants", "Collections can be listed", SOURCE),
    ("write_grants", "Documents can be written", SINK),
]
TITLES = {name: title for name, title, _ in CHECKS}
SCOPES = {name: scope for name, _, scope in CHECKS}

MIN_VERSION = (4, 0)  # database-level change streams and multi-document transactions
CHANGE_STREAM_AWAIT_MS = 1000
CHECK_COLLECTION = "_dts_check"
COMMAND_NOT_FOUND = 59
NOT_REPLICA_SET = 40573  # "The $changeStream stage is only supported on replica sets"
REPLICA_SET_HINT = ("start mongod with --replSet <name> (or replication.replSetName in mongod.conf) and run "
                    "rs.initiate() once in mongosh; a single-member replica set is enough")


def parse_version(text: str) -> tuple[int, ...]:
    """'7.0.12' -> (7, 0, 12); stops at the first part that is not a number ('4.4.0-rc1' -> (4, 4))."""
    parts: list[int] = []
    for piece in text.split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


class MongoChecks:
    """One run of every check against one MongoDB, recorded into a CheckReport."""

    def __init__(self, config: ConnectionConfig, client_factory: Callable[..., MongoClientT]) -> None:
        self.config = config
        self.client_factory = client_factory
        self.report = CheckReport(engine="mongodb")
        self.database_names: list[str] | None = None  # from listDatabases, when it was allowed

    def add(self, name: str, status: CheckStatus, detail: str = "", hint: str = "") -> None:
        self.report.add(name, TITLES[name], status, detail, hint, SCOPES[name])

    def skip_after(self, name: str, reason: str) -> None:
        names = [check[0] for check in CHECKS]
        self.report.skip_rest(CHECKS[names.index(name) + 1:], reason)

    def text(self, exc: BaseException) -> str:
        return error_text(exc, self.config)

    def run(self) -> CheckReport:
        # The socket timeout must outlast the change stream's await, or that check would time out.
        socket_ms = int(self.config.connect_timeout * 1000) + 2 * CHANGE_STREAM_AWAIT_MS
        try:
            client = self.client_factory(socketTimeoutMS=socket_ms)
        except (ConfigurationError, TypeError, ValueError) as exc:
            self.add("reachable", FAILED, f"invalid connection options: {self.text(exc)}",
                     "fix the options: they are MongoClient options such as authSource, tls, replicaSet, "
                     "directConnection")
            self.skip_after("reachable", "not checked: the connection options are invalid")
            return self.report
        with client:
            hello = self.reachable_and_login(client)
            if hello is None:
                return self.report
            if not self.unauthenticated_access_allowed(client):
                return self.report
            self.database(client)
            self.version(client)
            self.replica_set(hello)
            self.change_streams(client)
            self.read_grants(client)
            self.write_grants(client)
        return self.report

    def reachable_and_login(self, client: MongoClientT) -> dict[str, Any] | None:
        """Run hello. With credentials the driver logs in first, so a refused login shows up here too."""
        where = address(self.config)
        try:
            hello = self.hello(client)
        except ConnectionFailure as exc:
            self.add("reachable", FAILED, f"cannot reach MongoDB at {where}: {self.text(exc)}",
                     "check host and port, that mongod listens on this address (net.bindIp), that no firewall "
                     "blocks it, and the tls/replicaSet options")
            self.skip_after("reachable", "not checked: the server is not reachable")
            return None
        except OperationFailure as exc:
            if is_auth_failure(exc):
                self.add("reachable", PASSED, f"MongoDB at {where} answered")
                self.login_failed(self.text(exc))
            else:
                self.add("reachable", FAILED, f"the server at {where} refused hello: {self.text(exc)}",
                         "check that host and port point at a MongoDB server (mongod or mongos)")
                self.skip_after("reachable", "not checked: the server did not answer hello")
            return None
        except KeyError as exc:
            # pymongo raises KeyError('payload') when the SASL reply lacks the SCRAM payload: the server
            # speaks the wire protocol but does not implement authentication (e.g. a MongoDB emulator).
            if not self.config.user:
                raise
            self.add("reachable", PASSED, f"a MongoDB wire-protocol server at {where} answered")
            self.login_failed(f"the server's reply to the SCRAM login lacks {exc}: it does not support "
                              "authentication", "leave user and password empty for this server")
            return None
        self.add("reachable", PASSED, f"MongoDB at {where} answered")
        if self.config.user:
            source = self.config.options.get("authSource", "admin")
            self.add("authentication", PASSED, f"logged in as {self.config.user} (authSource {source})")
        return hello

    @staticmethod
    def hello(client: MongoClientT) -> dict[str, Any]:
        try:
            return dict(client.admin.command("hello"))
        except OperationFailure as exc:
            if exc.code != COMMAND_NOT_FOUND:
                raise
            # Servers before 4.4.2 only know the legacy name.
            return dict(client.admin.command("isMaster"))

    def login_failed(self, found: str, hint: str = "") -> None:
        self.add("authentication", FAILED, f"login as {self.config.user or '(no user)'} refused: {found}",
                 hint or "check user and password; if the user was created in another database than 'admin', "
                         "set the authSource option to it")
        self.skip_after("authentication", "not checked: login failed")

    def unauthenticated_access_allowed(self, client: MongoClientT) -> bool:
        """Without a user, find out whether the server wants a login (listDatabases is then refused)."""
        if self.config.user:
            return True
        try:
            self.database_names = client.list_database_names()
        except PyMongoError as exc:
            if not (isinstance(exc, OperationFailure) and exc.code == UNAUTHORIZED):
                # Not a login question: the database check below retries and reports it.
                self.add("authentication", PASSED, "no user given; the server did not ask for a login")
                return True
            self.add("authentication", FAILED,
                     f"no user given and the server requires a login: {self.text(exc)}",
                     "set user and password (and authSource when the user is not defined in 'admin')")
            self.skip_after("authentication", "not checked: login required")
            return False
        self.add("authentication", PASSED, "no user given; the server allows access without a login")
        return True

    def database(self, client: MongoClientT) -> None:
        if self.database_names is None:
            try:
                self.database_names = client.list_database_names()
            except PyMongoError as exc:
                self.add("database", WARNING, f"could not list databases: {self.text(exc)}",
                         "grant the listDatabases action, or set the database so listing is not needed")
                return
        wanted = self.config.database
        if not wanted:
            user_dbs = [name for name in self.database_names if name not in SYSTEM_DATABASES]
            found = ", ".join(user_dbs) if user_dbs else "none besides admin, local and config"
            self.add("database", PASSED, f"no database set; databases found: {found}")
        elif wanted in self.database_names:
            self.add("database", PASSED, f"database '{wanted}' exists")
        else:
            self.add("database", PASSED, f"database '{wanted}' does not exist yet; MongoDB creates it on the "
                                         "first write")

    def version(self, client: MongoClientT) -> None:
        try:
            info = client.admin.command("buildInfo")
        except PyMongoError as exc:
            self.add("version", WARNING, f"buildInfo refused: {self.text(exc)}",
                     "grant the buildInfo action (clusterMonitor role) so the version can be checked")
            return
        version = str(info.get("version", ""))
        self.report.server_version = version
        parsed = parse_version(version)
        if not parsed:
            self.add("version", WARNING, f"unrecognised version '{version}'", "use MongoDB 4.0 or later")
        elif parsed < MIN_VERSION:
            self.add("version", WARNING, f"MongoDB {version}: database-level change streams need 4.0",
                     "upgrade to MongoDB 4.0 or later (6.0+ recommended)")
        else:
            self.add("version", PASSED, f"MongoDB {version}")

    def replica_set(self, hello: dict[str, Any]) -> None:
        if hello.get("msg") == "isdbgrid":
            self.add("replica_set", PASSED, "sharded cluster (mongos): change streams are opened through mongos")
        elif hello.get("setName"):
            role = "primary" if hello.get("isWritablePrimary") else "secondary"
            self.add("replica_set", PASSED, f"replica set '{hello['setName']}'; this member is the {role}")
        else:
            self.add("replica_set", FAILED,
                     "standalone server (hello reports no setName): change streams need a replica set. It is "
                     "still usable as a snapshot-only source (full copies, no change capture)",
                     REPLICA_SET_HINT)

    def change_streams(self, client: MongoClientT) -> None:
        database = self.config.database
        target = client[database] if database else client
        where = f"database '{database}'" if database else "the whole deployment"
        try:
            # One bounded getMore proves the cursor works; an idle stream returns None after the await.
            with target.watch(max_await_time_ms=CHANGE_STREAM_AWAIT_MS) as stream:
                stream.try_next()
        except PyMongoError as exc:
            if isinstance(exc, OperationFailure) and exc.code == UNAUTHORIZED:
                hint = (f"grant the find and changeStream actions on {where} (the built-in read role has them; "
                        "a deployment-wide stream needs readAnyDatabase)")
            elif isinstance(exc, OperationFailure) and exc.code == NOT_REPLICA_SET:
                hint = REPLICA_SET_HINT
            else:
                hint = "change streams need a replica set or sharded cluster on the WiredTiger storage engine"
            self.add("change_streams", FAILED, f"the server refused a change stream on {where}: {self.text(exc)}",
                     hint)
            return
        self.add("change_streams", PASSED, f"opened and closed a change stream on {where}")

    def read_grants(self, client: MongoClientT) -> None:
        if self.config.database:
            databases = [self.config.database]
        else:
            databases = [name for name in self.database_names or [] if name not in SYSTEM_DATABASES]
        counts: list[str] = []
        for name in databases:
            try:
                counts.append(f"{name}: {len(client[name].list_collection_names())}")
            except PyMongoError as exc:
                if isinstance(exc, OperationFailure) and exc.code == UNAUTHORIZED:
                    hint = (f"grant read on it: db.getSiblingDB('admin').grantRolesToUser('{self.config.user}', "
                            f"[{{role: 'read', db: '{name}'}}])")
                else:
                    hint = "see the server's message"
                self.add("read_grants", FAILED, f"listCollections on '{name}' failed: {self.text(exc)}", hint)
                return
        found = "; ".join(counts) if counts else "no databases besides admin, local and config"
        self.add("read_grants", PASSED, f"collections listed ({found})")

    def write_grants(self, client: MongoClientT) -> None:
        database = self.config.database
        if not database:
            self.add("write_grants", WARNING, "no database set, so writing was not tried",
                     "set the database the pipeline writes into")
            return
        collection = client[database][CHECK_COLLECTION]
        doc_id = f"dts-check-{secrets.token_hex(6)}"
        step = "insert"
        try:
            collection.insert_one({"_id": doc_id, "at": datetime.now(UTC)})
            step = "delete"
            collection.delete_one({"_id": doc_id})
            step = "drop"
            collection.drop()
        except PyMongoError as exc:
            if step == "drop":
                self.add("write_grants", WARNING,
                         f"inserted and deleted a document in {database}.{CHECK_COLLECTION} but could not drop "
                         f"the collection: {self.text(exc)}",
                         f"drop {database}.{CHECK_COLLECTION} by hand, or grant dropCollection on '{database}'")
                return
            if isinstance(exc, OperationFailure) and exc.code == UNAUTHORIZED:
                hint = (f"grant readWrite on it: db.getSiblingDB('admin').grantRolesToUser('{self.config.user}', "
                        f"[{{role: 'readWrite', db: '{database}'}}])")
            elif isinstance(exc, ConnectionFailure):
                hint = "writes go to the primary: set replicaSet so the driver finds it, or connect to it directly"
            else:
                hint = "see the server's message"
            self.add("write_grants", FAILED,
                     f"{step} in {database}.{CHECK_COLLECTION} failed: {self.text(exc)}", hint)
            return
        self.add("write_grants", PASSED,
                 f"inserted and deleted a document in {database}.{CHECK_COLLECTION}, then dropped it")


def run_checks(config: ConnectionConfig, client_factory: Callable[..., MongoClientT]) -> CheckReport:
    return MongoChecks(config, client_factory).run()
