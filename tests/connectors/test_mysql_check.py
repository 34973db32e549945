"""MySQL/MariaDB pre-flight checks against real MariaDB servers, well and badly configured."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from connectors.base import CheckReport, CheckScope, CheckStatus
from connectors.config import ConnectionConfig
from connectors.mysql.connector import MySQLConnector
from connectors.mysql.grants import Privileges
from connectors.registry import connector_for
from dts.localservers import MariaDBServer, free_port

ConfigFactory = Callable[..., ConnectionConfig]

EXPECTED_ORDER = ["reachable", "authentication", "database", "version", "log_bin", "binlog_format",
                  "binlog_row_image", "binlog_row_metadata", "server_id", "replication_grants", "select_grant",
                  "binlog_retention", "gtid", "write_grants"]


@pytest.fixture(scope="module")
def binlog_off_server() -> Iterator[MariaDBServer]:
    server = MariaDBServer(binlog=False).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mixed_minimal_server() -> Iterator[MariaDBServer]:
    server = MariaDBServer(extra_config={"binlog_format": "MIXED", "binlog_row_image": "MINIMAL",
                                         "binlog_expire_logs_seconds": "3600"}).start()
    yield server
    server.stop()


def check(config_factory: ConfigFactory, server: MariaDBServer, **fields: object) -> CheckReport:
    return MySQLConnector(config_factory(server, **fields)).check()


def statuses(report: CheckReport) -> dict[str, CheckStatus]:
    return {item.name: item.status for item in report.items}


def test_registry_finds_the_mysql_connector(mariadb: MariaDBServer, mysql_config: ConfigFactory) -> None:
    assert isinstance(connector_for(mysql_config(mariadb)), MySQLConnector)


def test_a_well_configured_mariadb_is_usable_as_source_and_sink(
        mariadb: MariaDBServer, mysql_db: str, mysql_config: ConfigFactory) -> None:
    report = check(mysql_config, mariadb, database=mysql_db)
    assert [item.name for item in report.items] == EXPECTED_ORDER
    assert report.status != CheckStatus.FAILED, report.to_dict()
    data = report.to_dict()
    assert data["usable_as_source"] is True
    assert data["usable_as_sink"] is True
    for item in report.items:
        if item.scope == CheckScope.SOURCE:
            assert item.status in (CheckStatus.PASSED, CheckStatus.WARNING), item
    assert "MariaDB" in report.server_version
    assert "MariaDB 10." in report.item("version").detail
    assert report.item("binlog_row_metadata").detail == "binlog_row_metadata=FULL"
    assert "never purged" in report.item("binlog_retention").detail
    assert "gtid_binlog_pos=" in report.item("gtid").detail


def test_binlog_off_fails_the_source_but_not_the_sink(
        binlog_off_server: MariaDBServer, mysql_config: ConfigFactory) -> None:
    report = check(mysql_config, binlog_off_server)
    log_bin = report.item("log_bin")
    assert log_bin.status == CheckStatus.FAILED
    assert "log_bin" in log_bin.hint and "server_id" in log_bin.hint and "restart" in log_bin.hint
    data = report.to_dict()
    assert data["usable_as_source"] is False
    assert data["usable_as_sink"] is True
    assert report.item("write_grants").status == CheckStatus.PASSED


def test_mixed_format_and_minimal_image_fail_with_hints(
        mixed_minimal_server: MariaDBServer, mysql_config: ConfigFactory) -> None:
    report = check(mysql_config, mixed_minimal_server)
    binlog_format = report.item("binlog_format")
    assert binlog_format.status == CheckStatus.FAILED
    assert "MIXED" in binlog_format.detail
    assert "binlog_format" in binlog_format.hint and "ROW" in binlog_format.hint
    row_image = report.item("binlog_row_image")
    assert row_image.status == CheckStatus.FAILED
    assert "MINIMAL" in row_image.detail
    assert "binlog_row_image" in row_image.hint and "FULL" in row_image.hint
    assert report.item("log_bin").status == CheckStatus.PASSED
    assert report.to_dict()["usable_as_source"] is False


def test_binlog_retention_under_a_day_is_a_warning(
        mixed_minimal_server: MariaDBServer, mysql_config: ConfigFactory) -> None:
    retention = check(mysql_config, mixed_minimal_server).item("binlog_retention")
    assert retention.status == CheckStatus.WARNING
    assert "1 hour" in retention.detail
    assert "binlog_expire_logs_seconds" in retention.hint


def test_a_user_without_replication_grants_gets_the_grant_statement(
        mariadb: MariaDBServer, mysql_db: str, mysql_config: ConfigFactory,
        mysql_account: Callable[..., tuple[str, str]]) -> None:
    user, password = mysql_account(f"GRANT SELECT ON `{mysql_db}`.* TO {{user}}")
    report = check(mysql_config, mariadb, user=user, password=password, database=mysql_db)
    replication = report.item("replication_grants")
    assert replication.status == CheckStatus.FAILED
    assert "GRANT REPLICATION SLAVE" in replication.hint
    assert f"'{user}'@'%'" in replication.hint
    assert report.item("select_grant").status == CheckStatus.PASSED
    write = report.item("write_grants")
    assert write.status == CheckStatus.FAILED
    assert "INSERT" in write.detail and f"ON `{mysql_db}`.*" in write.hint
    data = report.to_dict()
    assert data["usable_as_source"] is False and data["usable_as_sink"] is False
    # SHOW GRANTS prints the password hash: neither it nor the password may reach the report.
    assert password not in json.dumps(data)
    assert "IDENTIFIED" not in json.dumps(data)


def test_replication_and_database_level_grants_are_recognised(
        mariadb: MariaDBServer, mysql_db: str, mysql_config: ConfigFactory,
        mysql_account: Callable[..., tuple[str, str]]) -> None:
    # An escaped wildcard, as SHOW GRANTS prints it back: `t1\_x`.* matches only the database t1_x.
    pattern = mysql_db.replace("_", "\\_")
    user, password = mysql_account(
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {user}",
        f"GRANT SELECT, CREATE, ALTER, INSERT, UPDATE, DELETE, DROP ON `{pattern}`.* TO {{user}}")
    report = check(mysql_config, mariadb, user=user, password=password, database=mysql_db)
    assert report.item("replication_grants").status == CheckStatus.PASSED
    assert "REPLICATION SLAVE" in report.item("replication_grants").detail
    assert report.item("select_grant").status == CheckStatus.PASSED
    assert report.item("write_grants").status == CheckStatus.PASSED
    assert report.to_dict()["usable_as_source"] is True


def test_a_user_with_no_privileges_on_the_database_fails_the_database_check(
        mariadb: MariaDBServer, mysql_db: str, mysql_config: ConfigFactory,
        mysql_account: Callable[..., tuple[str, str]]) -> None:
    user, password = mysql_account()
    report = check(mysql_config, mariadb, user=user, password=password, database=mysql_db)
    database = report.item("database")
    assert database.status == CheckStatus.FAILED
    assert f"GRANT SELECT ON `{mysql_db}`.*" in database.hint
    assert report.item("select_grant").status == CheckStatus.FAILED


def test_wrong_password_fails_authentication_and_skips_the_rest(
        mariadb: MariaDBServer, mysql_config: ConfigFactory,
        mysql_account: Callable[..., tuple[str, str]]) -> None:
    user, _ = mysql_account()
    wrong = "Wrong-Secret-93xk"
    report = check(mysql_config, mariadb, user=user, password=wrong)
    assert report.item("reachable").status == CheckStatus.PASSED
    auth = report.item("authentication")
    assert auth.status == CheckStatus.FAILED
    assert f"access denied for user '{user}'" in auth.detail
    assert "password" in auth.hint and "host" in auth.hint
    later = report.items[2:]
    assert [i.name for i in later] == EXPECTED_ORDER[2:]
    assert all(i.status == CheckStatus.SKIPPED and "log in" in i.detail for i in later)
    assert wrong not in json.dumps(report.to_dict())


def test_unknown_database_fails_with_a_create_hint(mariadb: MariaDBServer, mysql_config: ConfigFactory) -> None:
    report = check(mysql_config, mariadb, database="no_such_db")
    database = report.item("database")
    assert database.status == CheckStatus.FAILED
    assert "does not exist" in database.detail
    assert "CREATE DATABASE `no_such_db`" in database.hint
    # Server-wide checks still run.
    assert report.item("log_bin").status == CheckStatus.PASSED


def test_closed_port_fails_reachable_quickly(mysql_config: ConfigFactory, mariadb: MariaDBServer) -> None:
    port = free_port()
    started = time.monotonic()
    report = check(mysql_config, mariadb, port=port)
    assert time.monotonic() - started < 10
    reachable = report.item("reachable")
    assert reachable.status == CheckStatus.FAILED
    assert f"127.0.0.1:{port}" in reachable.detail and "refused" in reachable.detail
    assert "3306" in reachable.hint
    assert all(i.status == CheckStatus.SKIPPED for i in report.items[1:])
    assert len(report.items) == len(EXPECTED_ORDER)


def test_a_port_that_never_greets_fails_within_the_connect_timeout(
        mysql_config: ConfigFactory, mariadb: MariaDBServer, silent_port: int) -> None:
    started = time.monotonic()
    report = check(mysql_config, mariadb, port=silent_port, connect_timeout=1.0)
    assert time.monotonic() - started < 5
    reachable = report.item("reachable")
    assert reachable.status == CheckStatus.FAILED
    assert "no MySQL greeting" in reachable.detail


def test_another_service_on_the_port_fails_reachable(
        mysql_config: ConfigFactory, mariadb: MariaDBServer, banner_port: int) -> None:
    report = check(mysql_config, mariadb, port=banner_port)
    reachable = report.item("reachable")
    assert reachable.status == CheckStatus.FAILED
    assert "not with a MySQL greeting" in reachable.detail and "SSH" in reachable.detail
    assert report.item("authentication").status == CheckStatus.SKIPPED


def test_an_unresolvable_host_fails_reachable(mysql_config: ConfigFactory, mariadb: MariaDBServer) -> None:
    report = check(mysql_config, mariadb, host="no-such-host.invalid")
    reachable = report.item("reachable")
    assert reachable.status == CheckStatus.FAILED
    assert "resolve" in reachable.detail and "no-such-host.invalid" in reachable.detail


# SHOW GRANTS output from MySQL 8, which is not installed here: the parser must read it the same way.
def test_mysql8_grant_lines_are_parsed() -> None:
    privileges = Privileges.from_show_grants([
        "GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `dts`@`%`",
        "GRANT BACKUP_ADMIN,REPLICATION_SLAVE_ADMIN ON *.* TO `dts`@`%`",
        "GRANT INSERT, UPDATE, DELETE, CREATE, DROP, ALTER ON `shop`.* TO `dts`@`%`",
        "GRANT SELECT (`id`, `name`), INSERT ON `other`.`t` TO `dts`@`%`",
        "REVOKE DROP ON `shop`.* FROM `dts`@`%`",
        "GRANT `reader`@`%` TO `dts`@`%`",
    ])
    assert privileges.has_global("REPLICATION SLAVE") and privileges.has_global("REPLICATION CLIENT")
    assert privileges.missing_on_database("shop", ["INSERT", "ALTER", "DROP"]) == ["DROP"]
    assert privileges.has_on_database("shop", "SELECT")  # global SELECT
    assert privileges.tables_with("other", "INSERT") == ["other.t"]
    assert privileges.tables_with("other", "SELECT") == []  # column-level only


def test_database_wildcards_in_grants_match_like_patterns() -> None:
    privileges = Privileges.from_show_grants(["GRANT ALL PRIVILEGES ON `app\\_%`.* TO `u`@`%`"])
    assert privileges.has_on_database("app_eu", "INSERT")
    assert not privileges.has_on_database("appXeu", "INSERT")
    assert not privileges.has_global("REPLICATION SLAVE")
