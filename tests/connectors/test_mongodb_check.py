"""MongoDB pre-flight checks against a real wire-protocol server (nx-27017, or DTS_TEST_MONGO_URI)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator

import pytest

from connectors.base import CheckReport, CheckStatus
from connectors.config import ConnectionConfig
from connectors.mongodb.check import CHECKS, parse_version
from connectors.mongodb.connector import MongoDBConnector
from connectors.registry import connector_for
from dts.localservers import free_port
from tests.servers import MongoTarget

PASSED, WARNING, FAILED, SKIPPED = CheckStatus.PASSED, CheckStatus.WARNING, CheckStatus.FAILED, CheckStatus.SKIPPED
ALL_CHECKS = [name for name, _, _ in CHECKS]


def config_for(mongo: MongoTarget, database: str = "", **changes: object) -> ConnectionConfig:
    fields: dict[str, object] = {"engine": "mongodb", "host": mongo.host, "port": mongo.port, "user": mongo.user,
                                 "password": mongo.password, "database": database, "options": dict(mongo.options)}
    fields.update(changes)
    return ConnectionConfig(**fields)  # type: ignore[arg-type]


def statuses(report: CheckReport) -> dict[str, CheckStatus]:
    return {item.name: item.status for item in report.items}


@pytest.fixture
def database(mongo: MongoTarget) -> Iterator[str]:
    """A database name nobody uses yet, dropped afterwards."""
    name = f"dts_check_{secrets.token_hex(4)}"
    yield name
    with mongo.client() as client:
        client.drop_database(name)


def test_a_reachable_server_passes_connection_checks_and_reports_the_replica_set(
        mongo: MongoTarget, database: str) -> None:
    connector = connector_for(config_for(mongo, database))
    assert isinstance(connector, MongoDBConnector)

    report = connector.check()

    assert [item.name for item in report.items] == ALL_CHECKS
    found = statuses(report)
    assert found["reachable"] == PASSED
    assert found["authentication"] == PASSED
    assert found["version"] == PASSED
    assert report.server_version and report.server_version in report.item("version").detail
    assert found["database"] == PASSED
    assert f"'{database}' does not exist yet" in report.item("database").detail
    assert found["read_grants"] == PASSED
    assert found["write_grants"] == PASSED
    with mongo.client() as client:
        set_name = client.admin.command("hello").get("setName")
        # The write check drops its collection again, which leaves nothing behind.
        assert "_dts_check" not in client[database].list_collection_names()

    replica_set = report.item("replica_set")
    if mongo.is_real_mongodb and set_name:
        assert replica_set.status == PASSED
        assert set_name in replica_set.detail
        assert found["change_streams"] == PASSED
        assert report.to_dict()["usable_as_source"] is True
    else:
        assert replica_set.status == FAILED
        assert "change streams need a replica set" in replica_set.detail
        assert "snapshot-only source" in replica_set.detail
        assert "--replSet" in replica_set.hint and "rs.initiate()" in replica_set.hint
        assert report.to_dict()["usable_as_source"] is False
        if mongo.is_real_mongodb:
            # A real standalone refuses $changeStream, and the server's message is passed on.
            assert found["change_streams"] == FAILED
            assert "replica set" in report.item("change_streams").detail
        else:
            # nx-27017 accepts a database-level $changeStream (it just never delivers events).
            assert found["change_streams"] == PASSED
    assert report.to_dict()["usable_as_sink"] is True


def test_an_existing_database_is_reported_and_without_one_writing_is_not_tried(
        mongo: MongoTarget, database: str) -> None:
    with mongo.client() as client:
        client[database]["things"].insert_one({"x": 1})

    named = MongoDBConnector(config_for(mongo, database)).check()
    unnamed = MongoDBConnector(config_for(mongo, "")).check()

    assert named.item("database").detail == f"database '{database}' exists"
    assert database in unnamed.item("database").detail
    assert f"{database}: 1" in unnamed.item("read_grants").detail
    assert unnamed.item("write_grants").status == WARNING
    assert "set the database" in unnamed.item("write_grants").hint


def test_a_closed_port_fails_reachable_quickly_and_skips_the_rest() -> None:
    port = free_port()
    config = ConnectionConfig(engine="mongodb", host="127.0.0.1", port=port, database="app")

    started = time.monotonic()
    report = MongoDBConnector(config).check()
    elapsed = time.monotonic() - started

    assert elapsed < 10
    reachable = report.item("reachable")
    assert reachable.status == FAILED
    assert f"127.0.0.1:{port}" in reachable.detail
    assert "bindIp" in reachable.hint
    assert [item.name for item in report.items] == ALL_CHECKS
    assert all(item.status == SKIPPED for item in report.items[1:])
    assert "not reachable" in report.items[-1].detail
    assert report.to_dict()["usable_as_source"] is False
    assert report.to_dict()["usable_as_sink"] is False


def test_refused_credentials_fail_authentication_without_leaking_the_password(mongo: MongoTarget) -> None:
    password = f"Wrong-{secrets.token_hex(6)}"
    # On a real server an unknown user or a wrong password is refused; nx-27017 cannot log anyone in.
    config = config_for(mongo, "app", user=mongo.user or "dts_nobody", password=password)

    report = MongoDBConnector(config).check()

    assert report.item("reachable").status == PASSED
    authentication = report.item("authentication")
    assert authentication.status == FAILED
    if mongo.is_real_mongodb:
        assert "authSource" in authentication.hint
    else:
        assert "does not support authentication" in authentication.detail
        assert "leave user and password empty" in authentication.hint
    assert [item.name for item in report.items] == ALL_CHECKS
    assert all(item.status == SKIPPED for item in report.items[2:])
    assert password not in json.dumps(report.to_dict())


def test_invalid_options_fail_before_connecting(mongo: MongoTarget) -> None:
    config = config_for(mongo, "app", options={"replicaSetz": "rs0"})

    report = MongoDBConnector(config).check()

    assert report.item("reachable").status == FAILED
    assert "invalid connection options" in report.item("reachable").detail
    assert "replicaSetz" in report.item("reachable").detail
    assert all(item.status == SKIPPED for item in report.items[1:])


@pytest.mark.parametrize(("text", "expected"), [("7.0.12", (7, 0, 12)), ("4.4.0-rc1", (4, 4)), ("", ())])
def test_versions_are_compared_as_numbers(text: str, expected: tuple[int, ...]) -> None:
    assert parse_version(text) == expected
    assert (parse_version("10.0.0") > (4, 0)) is True
