"""PostgreSQL pre-flight checks against real servers, well and badly configured."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from connectors.base import CheckReport, CheckScope, CheckStatus
from connectors.config import ConnectionConfig
from connectors.postgresql.connector import PostgreSQLConnector
from connectors.registry import connector_for
from dts.localservers import PostgresServer, free_port

ConfigFactory = Callable[..., ConnectionConfig]

EXPECTED_ORDER = ["reachable", "authentication", "database", "version", "wal_level", "replication_privilege",
                  "replication_slots", "wal_senders", "select_grant", "orphaned_slots", "write_grants"]


@pytest.fixture(scope="module")
def replica_wal_server() -> Iterator[PostgresServer]:
    """wal_level=replica, a single replication slot and no WAL senders."""
    server = PostgresServer(settings={"wal_level": "replica", "max_replication_slots": "1",
                                      "max_wal_senders": "0"}).start()
    yield server
    server.stop()


@pytest.fixture
def orphan_slot(postgres: PostgresServer) -> Iterator[str]:
    conn = postgres.connect()
    conn.execute("SELECT pg_create_logical_replication_slot('dts_orphan_test', 'pgoutput')")
    yield "dts_orphan_test"
    conn.execute("SELECT pg_drop_replication_slot('dts_orphan_test')")
    conn.close()


def check(config_factory: ConfigFactory, server: PostgresServer, **fields: object) -> CheckReport:
    return PostgreSQLConnector(config_factory(server, **fields)).check()


def test_registry_finds_the_postgresql_connector(postgres: PostgresServer, pg_config: ConfigFactory) -> None:
    assert isinstance(connector_for(pg_config(postgres)), PostgreSQLConnector)


def test_a_well_configured_postgres_is_usable_as_source_and_sink(
        postgres: PostgresServer, pg_db: str, pg_config: ConfigFactory) -> None:
    report = check(pg_config, postgres, database=pg_db)
    assert [item.name for item in report.items] == EXPECTED_ORDER
    assert report.status != CheckStatus.FAILED, report.to_dict()
    data = report.to_dict()
    assert data["usable_as_source"] is True and data["usable_as_sink"] is True
    for item in report.items:
        if item.scope == CheckScope.SOURCE:
            assert item.status in (CheckStatus.PASSED, CheckStatus.WARNING), item
    assert report.server_version.startswith("PostgreSQL 1")
    assert report.item("wal_level").detail == "wal_level=logical"
    assert report.item("replication_privilege").status == CheckStatus.PASSED
    assert "free" in report.item("replication_slots").detail


def test_wal_level_replica_fails_with_the_fix(
        replica_wal_server: PostgresServer, pg_config: ConfigFactory) -> None:
    report = check(pg_config, replica_wal_server)
    wal_level = report.item("wal_level")
    assert wal_level.status == CheckStatus.FAILED
    assert "wal_level=replica" in wal_level.detail
    assert "ALTER SYSTEM SET wal_level = logical" in wal_level.hint and "restart" in wal_level.hint
    assert report.to_dict()["usable_as_source"] is False
    assert report.to_dict()["usable_as_sink"] is True


def test_one_free_slot_warns_and_no_wal_sender_fails(
        replica_wal_server: PostgresServer, pg_config: ConfigFactory) -> None:
    report = check(pg_config, replica_wal_server)
    slots = report.item("replication_slots")
    assert slots.status == CheckStatus.WARNING
    assert "1 of max_replication_slots=1 free" in slots.detail
    senders = report.item("wal_senders")
    assert senders.status == CheckStatus.FAILED
    assert "max_wal_senders" in senders.hint


def test_a_role_without_replication_fails_with_alter_role(
        postgres: PostgresServer, pg_db: str, pg_config: ConfigFactory,
        pg_role: Callable[..., tuple[str, str]]) -> None:
    role, password = pg_role()
    report = check(pg_config, postgres, user=role, password=password, database=pg_db)
    privilege = report.item("replication_privilege")
    assert privilege.status == CheckStatus.FAILED
    assert f'ALTER ROLE "{role}" WITH REPLICATION' in privilege.hint
    # PostgreSQL 15 no longer lets everyone create in public, and the role owns nothing.
    write = report.item("write_grants")
    assert write.status == CheckStatus.FAILED
    assert f'GRANT CREATE ON DATABASE "{pg_db}" TO "{role}"' in write.hint
    assert report.item("select_grant").status == CheckStatus.PASSED
    assert password not in json.dumps(report.to_dict())


def test_a_role_with_replication_passes(
        postgres: PostgresServer, pg_db: str, pg_config: ConfigFactory,
        pg_role: Callable[..., tuple[str, str]]) -> None:
    role, password = pg_role(attributes="LOGIN REPLICATION")
    report = check(pg_config, postgres, user=role, password=password, database=pg_db)
    assert report.item("replication_privilege").status == CheckStatus.PASSED
    assert "REPLICATION attribute" in report.item("replication_privilege").detail


def test_wrong_password_fails_authentication_and_skips_the_rest(
        postgres: PostgresServer, pg_config: ConfigFactory) -> None:
    wrong = "Wrong-Secret-41zq"
    report = check(pg_config, postgres, password=wrong)
    assert report.item("reachable").status == CheckStatus.PASSED
    auth = report.item("authentication")
    assert auth.status == CheckStatus.FAILED
    assert "password authentication failed for user 'postgres'" in auth.detail
    assert "password" in auth.hint
    later = report.items[2:]
    assert [i.name for i in later] == EXPECTED_ORDER[2:]
    assert all(i.status == CheckStatus.SKIPPED for i in later)
    assert wrong not in json.dumps(report.to_dict())


def test_unknown_database_fails_but_server_checks_still_run(
        postgres: PostgresServer, pg_config: ConfigFactory) -> None:
    report = check(pg_config, postgres, database="no_such_db")
    assert report.item("authentication").status == CheckStatus.PASSED
    database = report.item("database")
    assert database.status == CheckStatus.FAILED
    assert "does not exist" in database.detail
    assert 'CREATE DATABASE "no_such_db"' in database.hint
    assert report.item("wal_level").status == CheckStatus.PASSED
    assert report.item("select_grant").status == CheckStatus.SKIPPED
    assert report.item("write_grants").status == CheckStatus.SKIPPED


def test_closed_port_fails_reachable_quickly(postgres: PostgresServer, pg_config: ConfigFactory) -> None:
    port = free_port()
    started = time.monotonic()
    report = check(pg_config, postgres, port=port)
    assert time.monotonic() - started < 10
    reachable = report.item("reachable")
    assert reachable.status == CheckStatus.FAILED
    assert f"127.0.0.1:{port}" in reachable.detail and "refused" in reachable.detail
    assert all(i.status == CheckStatus.SKIPPED for i in report.items[1:])


def test_a_port_that_never_answers_fails_within_the_connect_timeout(
        postgres: PostgresServer, pg_config: ConfigFactory, silent_port: int) -> None:
    started = time.monotonic()
    report = check(pg_config, postgres, port=silent_port, connect_timeout=2.0)
    assert time.monotonic() - started < 8
    reachable = report.item("reachable")
    assert reachable.status == CheckStatus.FAILED
    assert "did not finish within 2s" in reachable.detail


def test_another_service_on_the_port_fails_reachable(
        postgres: PostgresServer, pg_config: ConfigFactory, banner_port: int) -> None:
    report = check(pg_config, postgres, port=banner_port)
    reachable = report.item("reachable")
    assert reachable.status == CheckStatus.FAILED
    assert "did not answer as a PostgreSQL server" in reachable.detail
    assert report.item("authentication").status == CheckStatus.SKIPPED


def test_an_inactive_dts_slot_is_reported_with_its_name(
        postgres: PostgresServer, pg_config: ConfigFactory, orphan_slot: str) -> None:
    report = check(pg_config, postgres)
    orphaned = report.item("orphaned_slots")
    assert orphaned.status == CheckStatus.WARNING
    assert orphan_slot in orphaned.detail and "retained" in orphaned.detail
    assert f"pg_drop_replication_slot('{orphan_slot}')" in orphaned.hint
