"""Pre-flight checks for Redis as a sink: reachable, login, Streams support, write grants, eviction, persistence.

Every command is bounded by config.connect_timeout; an unmet precondition is recorded as an item
with a fix hint, never raised.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import redis
from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from connectors.base import CheckReport, CheckScope, CheckStatus
from connectors.config import ConnectionConfig
from connectors.redis import MIN_STREAMS_VERSION, address, db_index, error_text, parse_version

CONNECTION, SINK = CheckScope.CONNECTION, CheckScope.SINK
PASSED, WARNING, FAILED = CheckStatus.PASSED, CheckStatus.WARNING, CheckStatus.FAILED

# Every check in run order, so the ones after a failed login can be recorded as skipped.
CHECKS: list[tuple[str, str, CheckScope]] = [
    ("reachable", "Server answers", CONNECTION),
    ("authentication", "Login accepted", CONNECTION),
    ("version", "Server supports Streams (5.0+)", CONNECTION),
    ("write_grants", "Streams can be written", SINK),
    ("maxmemory_policy", "Streams are never evicted", SINK),
    ("persistence", "Unconsumed events survive a restart", SINK),
]
TITLES = {name: title for name, title, _ in CHECKS}
SCOPES = {name: scope for name, _, scope in CHECKS}
CHECK_KEY_PREFIX = "dts:check:"


class RedisChecks:
    """One run of every check against one Redis, recorded into a CheckReport."""

    def __init__(self, config: ConnectionConfig, client_factory: Callable[[], redis.Redis]) -> None:
        self.config = config
        self.client_factory = client_factory
        self.report = CheckReport(engine="redis")

    def add(self, name: str, status: CheckStatus, detail: str = "", hint: str = "") -> None:
        self.report.add(name, TITLES[name], status, detail, hint, SCOPES[name])

    def skip_after(self, name: str, reason: str) -> None:
        names = [check[0] for check in CHECKS]
        self.report.skip_rest(CHECKS[names.index(name) + 1:], reason)

    def text(self, exc: BaseException) -> str:
        return error_text(exc, self.config)

    @property
    def user(self) -> str:
        return self.config.user or "default"

    def run(self) -> CheckReport:
        try:
            client = self.client_factory()
        except (ValueError, TypeError) as exc:
            self.add("reachable", FAILED, f"invalid connection settings: {self.text(exc)}",
                     "set database to a DB index (0-15 by default) and only ssl* options")
            self.skip_after("reachable", "not checked: the connection settings are invalid")
            return self.report
        with client:
            if not self.reachable_and_login(client):
                return self.report
            self.version(client)
            self.write_grants(client)
            self.maxmemory_policy(client)
            self.persistence(client)
        return self.report

    def reachable_and_login(self, client: redis.Redis) -> bool:
        """PING. redis-py sends AUTH (and SELECT) on connect, so a refused login shows up here too."""
        where = address(self.config)
        note = ""
        try:
            client.ping()
        except AuthenticationError as exc:
            # Listed before ConnectionError, its base class: the server answered, the login was refused.
            self.add("reachable", PASSED, f"Redis at {where} answered")
            if self.config.password:
                hint = (f"check the password for user '{self.user}' (requirepass, or ACL SETUSER {self.user} "
                        "on >password)")
            else:
                hint = "the server requires a password: set it (and user, for an ACL user)"
            self.login_failed(self.text(exc), hint)
            return False
        except AuthenticationWrongNumberOfArgsError as exc:
            self.add("reachable", PASSED, f"Redis at {where} answered")
            self.login_failed(self.text(exc), "Redis before 6.0 has no ACL users: leave user empty and give only "
                                              "the password")
            return False
        except NoPermissionError:
            # The login worked; this user just may not PING. Later checks say what else it may not do.
            note = " (this user may not run PING)"
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self.add("reachable", FAILED, f"cannot reach Redis at {where}: {self.text(exc)}",
                     "check host and port, that redis-server binds this address (bind, protected-mode), "
                     "firewalls, and the ssl option")
            self.skip_after("reachable", "not checked: the server is not reachable")
            return False
        except ResponseError as exc:
            # e.g. SELECT of a DB index beyond 'databases': the server answered but refused the session.
            self.add("reachable", FAILED, f"Redis at {where} refused the session: {self.text(exc)}",
                     f"check the DB index ({db_index(self.config)}) against the server's 'databases' setting")
            self.skip_after("reachable", "not checked: the session was refused")
            return False
        self.add("reachable", PASSED, f"Redis at {where} answered{note}")
        if self.config.password:
            self.add("authentication", PASSED, f"logged in as '{self.user}'")
        else:
            self.add("authentication", PASSED, "no password given; the server does not require one")
        return True

    def login_failed(self, found: str, hint: str) -> None:
        self.add("authentication", FAILED, f"login as '{self.user}' refused: {found}", hint)
        self.skip_after("authentication", "not checked: login failed")

    def version(self, client: redis.Redis) -> None:
        try:
            version = str(client.info("server").get("redis_version", ""))
        except RedisError as exc:
            self.add("version", WARNING, f"could not read the version (INFO refused): {self.text(exc)}",
                     f"grant INFO so the version can be checked: ACL SETUSER {self.user} +info")
            return
        self.report.server_version = version
        parsed = parse_version(version)
        if not parsed:
            self.add("version", WARNING, f"unrecognised version '{version}'", "use Redis 5.0 or later")
        elif parsed < MIN_STREAMS_VERSION:
            self.add("version", FAILED, f"Redis {version} has no Streams (they arrived in 5.0)",
                     "upgrade to Redis 5.0 or later (6.2+ recommended)")
        else:
            self.add("version", PASSED, f"Redis {version}")

    def write_grants(self, client: redis.Redis) -> None:
        key = f"{CHECK_KEY_PREFIX}{secrets.token_hex(8)}"
        written = False
        try:
            client.xadd(key, {"check": "1"})
            written = True
            client.delete(key)
        except RedisError as exc:
            left = f"; key {key} was left behind, delete it by hand" if written else ""
            step = "DEL" if written else "XADD"
            if isinstance(exc, NoPermissionError):
                hint = (f"grant the stream commands and keys: ACL SETUSER {self.user} +xadd +del +xtrim "
                        "~<stream key pattern>")
            elif isinstance(exc, OutOfMemoryError):
                hint = "Redis is at maxmemory: free memory or raise maxmemory"
            elif isinstance(exc, ReadOnlyError):
                hint = "this is a read-only replica: connect to the primary"
            else:
                hint = "see the server's message"
            self.add("write_grants", FAILED, f"{step} on {key} failed: {self.text(exc)}{left}", hint)
            return
        self.add("write_grants", PASSED, f"XADD and DEL on a test stream worked in DB {db_index(self.config)}")

    def config_get(self, client: redis.Redis, name: str) -> str | None:
        """One CONFIG value, or None when CONFIG is refused (ACL) or disabled (managed services)."""
        try:
            values = client.config_get(name)
        except ResponseError:
            return None
        value = values.get(name)
        return None if value is None else str(value)

    def maxmemory_policy(self, client: redis.Redis) -> None:
        policy = self.config_get(client, "maxmemory-policy")
        maxmemory = self.config_get(client, "maxmemory")
        source = "CONFIG"
        if policy is None:
            # INFO memory carries the same settings and is allowed where CONFIG is not.
            try:
                memory = client.info("memory")
            except RedisError as exc:
                self.add("maxmemory_policy", WARNING,
                         f"could not read maxmemory-policy (CONFIG and INFO refused): {self.text(exc)}",
                         "make sure maxmemory-policy is noeviction, so streams are never evicted")
                return
            policy = str(memory.get("maxmemory_policy", "")) or None
            maxmemory = str(memory.get("maxmemory", "")) or None
            source = "INFO"
        if policy is None:
            self.add("maxmemory_policy", WARNING, "could not read maxmemory-policy (not in CONFIG or INFO)",
                     "make sure maxmemory-policy is noeviction, so streams are never evicted")
        elif policy == "noeviction":
            self.add("maxmemory_policy", PASSED, f"maxmemory-policy is noeviction (read via {source})")
        else:
            unlimited = " (maxmemory is 0 now, so nothing is evicted until a limit is set)" if maxmemory == "0" else ""
            self.add("maxmemory_policy", WARNING,
                     f"maxmemory-policy is {policy}: when memory is full Redis evicts keys, and the event "
                     f"streams could be among them{unlimited}",
                     "CONFIG SET maxmemory-policy noeviction (and set it in redis.conf so it survives a restart)")

    def persistence(self, client: redis.Redis) -> None:
        save = self.config_get(client, "save")
        try:
            aof = str(client.info("persistence").get("aof_enabled", "0")) == "1"
        except RedisError as exc:
            self.add("persistence", WARNING, f"could not read persistence settings: {self.text(exc)}",
                     "make sure AOF (appendonly yes) or RDB snapshots (save) are on")
            return
        modes = (["AOF"] if aof else []) + ([f"RDB snapshots (save {save!r})"] if save else [])
        if modes:
            self.add("persistence", PASSED, f"{' and '.join(modes)} on")
            return
        hint = "enable AOF: CONFIG SET appendonly yes (and appendonly yes in redis.conf)"
        if save is None:
            self.add("persistence", WARNING,
                     "AOF is off and the RDB 'save' setting could not be read (CONFIG refused): unconsumed events "
                     "may be lost when Redis restarts", hint)
        else:
            self.add("persistence", WARNING,
                     "neither AOF nor RDB snapshots are on: unconsumed events are lost when Redis restarts", hint)


def run_checks(config: ConnectionConfig, client_factory: Callable[[], redis.Redis]) -> CheckReport:
    return RedisChecks(config, client_factory).run()
