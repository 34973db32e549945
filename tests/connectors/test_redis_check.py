"""Redis sink pre-flight checks against real redis-server processes."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator

import pytest
import redis

from connectors.base import CheckReport, CheckStatus
from connectors.config import ConnectionConfig
from connectors.redis import parse_version
from connectors.redis.check import CHECKS
from connectors.redis.connector import RedisConnector
from connectors.registry import connector_for
from dts.localservers import RedisServer, free_port

PASSED, WARNING, FAILED, SKIPPED = CheckStatus.PASSED, CheckStatus.WARNING, CheckStatus.FAILED, CheckStatus.SKIPPED
ALL_CHECKS = [name for name, _, _ in CHECKS]
PASSWORD = f"Redis-{secrets.token_hex(8)}"
LIMITED_PASSWORD = f"Limited-{secrets.token_hex(8)}"


def config_for(server: RedisServer, **changes: object) -> ConnectionConfig:
    fields: dict[str, object] = {"engine": "redis", "host": server.host, "port": server.port}
    fields.update(changes)
    return ConnectionConfig(**fields)  # type: ignore[arg-type]


def statuses(report: CheckReport) -> dict[str, CheckStatus]:
    return {item.name: item.status for item in report.items}


@pytest.fixture(scope="module")
def locked_redis() -> Iterator[RedisServer]:
    """A Redis with requirepass and an ACL user that may read but not write."""
    server = RedisServer(extra_args=["--requirepass", PASSWORD])
    server.start()
    admin = redis.Redis(host=server.host, port=server.port, password=PASSWORD)
    admin.execute_command("ACL", "SETUSER", "limited", "on", f">{LIMITED_PASSWORD}", "~*", "+@read", "+ping",
                          "+info", "+hello")
    admin.close()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def evicting_redis() -> Iterator[RedisServer]:
    server = RedisServer(extra_args=["--maxmemory-policy", "allkeys-lru"])
    server.start()
    yield server
    server.stop()


def test_the_suite_redis_passes_the_sink_checks(redis_server: RedisServer) -> None:
    connector = connector_for(config_for(redis_server))
    assert isinstance(connector, RedisConnector)

    report = connector.check()

    assert [item.name for item in report.items] == ALL_CHECKS
    found = statuses(report)
    assert found["reachable"] == PASSED
    assert found["authentication"] == PASSED
    assert found["version"] == PASSED
    assert report.server_version and report.server_version in report.item("version").detail
    assert found["write_grants"] == PASSED
    assert found["maxmemory_policy"] == PASSED
    # The suite's Redis runs with --save "" --appendonly no: nothing would survive a restart.
    assert found["persistence"] == WARNING
    assert "neither AOF nor RDB" in report.item("persistence").detail
    assert "appendonly yes" in report.item("persistence").hint
    assert report.ok
    assert report.to_dict()["usable_as_sink"] is True
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    assert list(client.scan_iter(match="dts:check:*")) == []  # the test stream was deleted
    client.close()


def test_a_wrong_password_fails_authentication_skips_the_rest_and_is_never_shown(locked_redis: RedisServer) -> None:
    wrong = f"Wrong-{secrets.token_hex(8)}"

    report = RedisConnector(config_for(locked_redis, password=wrong)).check()

    assert report.item("reachable").status == PASSED
    authentication = report.item("authentication")
    assert authentication.status == FAILED
    assert "check the password" in authentication.hint
    assert [item.name for item in report.items] == ALL_CHECKS
    assert all(item.status == SKIPPED for item in report.items[2:])
    text = json.dumps(report.to_dict())
    assert wrong not in text
    assert PASSWORD not in text


def test_no_password_on_a_locked_server_says_one_is_needed(locked_redis: RedisServer) -> None:
    report = RedisConnector(config_for(locked_redis)).check()

    authentication = report.item("authentication")
    assert authentication.status == FAILED
    assert "requires a password" in authentication.hint
    assert report.item("write_grants").status == SKIPPED


def test_the_right_password_passes(locked_redis: RedisServer) -> None:
    report = RedisConnector(config_for(locked_redis, password=PASSWORD)).check()

    assert statuses(report)["authentication"] == PASSED
    assert statuses(report)["write_grants"] == PASSED
    assert PASSWORD not in json.dumps(report.to_dict())


def test_an_acl_user_without_xadd_fails_write_grants_with_the_acl_hint(locked_redis: RedisServer) -> None:
    config = config_for(locked_redis, user="limited", password=LIMITED_PASSWORD)

    report = RedisConnector(config).check()

    found = statuses(report)
    assert found["reachable"] == PASSED
    assert found["authentication"] == PASSED
    assert "'limited'" in report.item("authentication").detail
    assert found["version"] == PASSED
    write = report.item("write_grants")
    assert write.status == FAILED
    assert "xadd" in write.detail.lower()
    assert "ACL SETUSER limited +xadd +del +xtrim" in write.hint
    # CONFIG is refused to this user; the policy is still read from INFO, the save setting is not.
    assert found["maxmemory_policy"] == PASSED
    assert "via INFO" in report.item("maxmemory_policy").detail
    assert found["persistence"] == WARNING
    assert "could not be read" in report.item("persistence").detail
    assert report.to_dict()["usable_as_sink"] is False


def test_an_evicting_policy_is_a_warning(evicting_redis: RedisServer) -> None:
    report = RedisConnector(config_for(evicting_redis)).check()

    policy = report.item("maxmemory_policy")
    assert policy.status == WARNING
    assert "allkeys-lru" in policy.detail
    assert "CONFIG SET maxmemory-policy noeviction" in policy.hint
    assert report.item("write_grants").status == PASSED
    assert report.to_dict()["usable_as_sink"] is True


def test_a_closed_port_fails_reachable_quickly_and_skips_the_rest() -> None:
    port = free_port()
    config = ConnectionConfig(engine="redis", host="127.0.0.1", port=port)

    started = time.monotonic()
    report = RedisConnector(config).check()

    assert time.monotonic() - started < 10
    reachable = report.item("reachable")
    assert reachable.status == FAILED
    assert f"127.0.0.1:{port}" in reachable.detail
    assert "bind" in reachable.hint
    assert all(item.status == SKIPPED for item in report.items[1:])
    assert report.to_dict()["usable_as_sink"] is False


def test_a_database_that_is_not_an_index_is_reported(redis_server: RedisServer) -> None:
    report = RedisConnector(config_for(redis_server, database="orders")).check()

    assert report.item("reachable").status == FAILED
    assert "'orders'" in report.item("reachable").detail
    assert all(item.status == SKIPPED for item in report.items[1:])


def test_versions_are_compared_as_numbers() -> None:
    assert parse_version("7.0.15") == (7, 0, 15)
    assert parse_version("4.0.14") < (5, 0) <= parse_version("5.0.0")
