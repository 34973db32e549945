"""MySQL/MariaDB catalog discovery against a real MariaDB."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.base import Catalog, Column
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed
from connectors.mysql.connector import MySQLConnector
from dts.localservers import MariaDBServer, free_port

ConfigFactory = Callable[..., ConnectionConfig]

SCHEMA = [
    # Composite primary key declared in a different order from the columns.
    """CREATE TABLE order_lines (
         order_id BIGINT UNSIGNED NOT NULL,
         line_no SMALLINT NOT NULL,
         sku VARCHAR(32) NOT NULL COMMENT 'Artikelnummer ✓',
         price DECIMAL(12,2) NOT NULL DEFAULT 0.00,
         note VARCHAR(200) DEFAULT 'it''s a\\\\b',
         created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
         PRIMARY KEY (line_no, order_id),
         UNIQUE KEY uq_sku (sku, order_id),
         KEY ix_price (price)
       ) COMMENT 'Bestellpositionen ✓ 中文'""",
    "CREATE TABLE customers (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) UNIQUE, name TEXT)",
    "CREATE TABLE events (payload JSON, at DATETIME(6))",
    "CREATE VIEW big_orders AS SELECT order_id, price FROM order_lines WHERE price > 100",
    "INSERT INTO customers (email, name) VALUES ('a@example.com', 'Ä'), ('b@example.com', 'B')",
]


@pytest.fixture
def shop(mariadb: MariaDBServer, mysql_db: str) -> str:
    conn = mariadb.connect(database=mysql_db)
    with conn.cursor() as cur:
        for statement in SCHEMA:
            cur.execute(statement)
        cur.execute("ANALYZE TABLE customers")
    conn.close()
    return mysql_db


def discover(config: ConnectionConfig) -> Catalog:
    return MySQLConnector(config).discover()


def test_discover_one_database(mariadb: MariaDBServer, shop: str, mysql_config: ConfigFactory) -> None:
    catalog = discover(mysql_config(mariadb, database=shop))
    assert catalog.engine == "mysql"
    assert catalog.databases == [shop]
    assert sorted(t.name for t in catalog.tables) == ["big_orders", "customers", "events", "order_lines"]

    lines = catalog.table(shop, "order_lines")
    assert lines.kind == "table"
    # MariaDB stores comments as utf8mb3: characters outside the BMP (emoji) become '?' on the server.
    assert lines.comment == "Bestellpositionen ✓ 中文"
    assert lines.primary_key == ["line_no", "order_id"]
    assert lines.unique_keys == [["sku", "order_id"]]  # the non-unique ix_price is not a key
    assert [c.name for c in lines.columns] == ["order_id", "line_no", "sku", "price", "note", "created_at"]
    assert lines.columns[0] == Column("order_id", "bigint(20) unsigned", nullable=False, default=None, ordinal=1)
    sku = lines.columns[2]
    assert (sku.type, sku.nullable, sku.comment) == ("varchar(32)", False, "Artikelnummer ✓")
    price = lines.columns[3]
    assert (price.type, price.default) == ("decimal(12,2)", "0.00")
    note = lines.columns[4]
    assert (note.nullable, note.default) == (True, "it's a\\b")  # MariaDB prints the quoted, escaped literal
    assert lines.columns[5].default is not None and "current_timestamp" in lines.columns[5].default.lower()
    assert lines.estimated_rows == 0

    customers = catalog.table(shop, "customers")
    assert customers.primary_key == ["id"]
    assert customers.unique_keys == [["email"]]
    assert customers.estimated_rows == 2
    assert customers.columns[1].default is None  # nullable, no default: MariaDB prints NULL

    events = catalog.table(shop, "events")
    assert events.primary_key == [] and events.unique_keys == []
    assert [c.type for c in events.columns] == ["longtext", "datetime(6)"]  # MariaDB's JSON is longtext

    view = catalog.table(shop, "big_orders")
    assert view.kind == "view"
    assert view.estimated_rows is None
    assert view.comment == ""
    assert [(c.name, c.type) for c in view.columns] == [("order_id", "bigint(20) unsigned"),
                                                        ("price", "decimal(12,2)")]


def test_discover_every_database_leaves_out_system_ones(
        mariadb: MariaDBServer, shop: str, mysql_config: ConfigFactory) -> None:
    catalog = discover(mysql_config(mariadb))
    assert shop in catalog.databases
    for system in ("mysql", "information_schema", "performance_schema", "sys"):
        assert system not in catalog.databases
        assert not [t for t in catalog.tables if t.database == system]
    assert catalog.table(shop, "order_lines").primary_key == ["line_no", "order_id"]
    listed = {entry["name"]: entry["tables"] for entry in catalog.to_dict()["databases"]}
    assert len(listed[shop]) == 4 and "mysql" not in listed


def test_discover_uses_a_fixed_number_of_queries(
        mariadb: MariaDBServer, mysql_db: str, mysql_config: ConfigFactory) -> None:
    conn = mariadb.connect(database=mysql_db)
    with conn.cursor() as cur:
        for i in range(60):
            cur.execute(f"CREATE TABLE t{i:03d} (id INT PRIMARY KEY, v VARCHAR(10), UNIQUE KEY (v))")
        cur.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
        before = int(cur.fetchone()[1])
        catalog = discover(mysql_config(mariadb, database=mysql_db))
        cur.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
        after = int(cur.fetchone()[1])
    conn.close()
    assert len(catalog.tables) == 60
    assert all(t.primary_key == ["id"] and t.unique_keys == [["v"]] for t in catalog.tables)
    # Set-based: a handful of statements (plus the two SHOW STATUS), not one per table.
    assert after - before < 12


def test_discover_unknown_database_raises_connection_failed(
        mariadb: MariaDBServer, mysql_config: ConfigFactory) -> None:
    with pytest.raises(ConnectionFailed, match="does not exist") as info:
        discover(mysql_config(mariadb, database="missing_db"))
    assert "CREATE DATABASE" in info.value.hint


def test_discover_with_a_wrong_password_raises_without_the_password(
        mariadb: MariaDBServer, mysql_config: ConfigFactory) -> None:
    secret = "Not-The-Password-55"
    with pytest.raises(ConnectionFailed, match="access denied") as info:
        discover(mysql_config(mariadb, password=secret))
    assert secret not in str(info.value)


def test_discover_on_a_closed_port_raises_connection_failed(
        mariadb: MariaDBServer, mysql_config: ConfigFactory) -> None:
    with pytest.raises(ConnectionFailed, match="refused"):
        discover(mysql_config(mariadb, port=free_port()))
