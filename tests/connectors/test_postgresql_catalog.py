"""PostgreSQL catalog discovery against a real server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.base import Catalog
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed
from connectors.postgresql.connector import PostgreSQLConnector
from dts.localservers import PostgresServer, free_port

ConfigFactory = Callable[..., ConnectionConfig]

SCHEMA = [
    "CREATE SCHEMA sales",
    # Composite primary key declared in a different order from the columns.
    """CREATE TABLE sales.order_lines (
         order_id bigint NOT NULL,
         line_no smallint NOT NULL,
         sku character varying(32) NOT NULL,
         price numeric(12,2) NOT NULL DEFAULT 0,
         created_at timestamptz NOT NULL DEFAULT now(),
         note text,
         PRIMARY KEY (line_no, order_id),
         CONSTRAINT uq_sku UNIQUE (sku, order_id)
       )""",
    "COMMENT ON TABLE sales.order_lines IS 'Bestellpositionen ✓ 🚀'",
    "COMMENT ON COLUMN sales.order_lines.sku IS 'Artikelnummer'",
    # Partial and expression unique indexes are not row keys.
    "CREATE UNIQUE INDEX uq_open ON sales.order_lines (note) WHERE note IS NOT NULL",
    "CREATE UNIQUE INDEX uq_lower ON sales.order_lines (lower(sku), line_no)",
    "CREATE TABLE public.customers (id serial PRIMARY KEY, email varchar(100) UNIQUE, name text)",
    "CREATE TABLE public.events (payload jsonb, at timestamp(3) without time zone)",
    "CREATE VIEW sales.big_orders AS SELECT order_id, price FROM sales.order_lines WHERE price > 100",
    "CREATE TABLE public.measurements (id bigint, taken date, PRIMARY KEY (id, taken)) PARTITION BY RANGE (taken)",
    "CREATE TABLE public.measurements_2024 PARTITION OF public.measurements "
    "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
    "INSERT INTO public.customers (email, name) SELECT 'c' || g || '@example.com', 'C' FROM generate_series(1, 50) g",
    "INSERT INTO public.measurements SELECT g, '2024-03-01' FROM generate_series(1, 30) g",
    "ANALYZE public.customers",
    "ANALYZE public.measurements",
]


@pytest.fixture
def shop(postgres: PostgresServer, pg_db: str) -> str:
    conn = postgres.connect(pg_db)
    for statement in SCHEMA:
        conn.execute(statement)
    conn.close()
    return pg_db


def discover(config: ConnectionConfig) -> Catalog:
    return PostgreSQLConnector(config).discover()


def test_discover_lists_schemas_tables_columns_and_keys(
        postgres: PostgresServer, shop: str, pg_config: ConfigFactory) -> None:
    catalog = discover(pg_config(postgres, database=shop))
    assert catalog.engine == "postgresql"
    assert catalog.databases == ["public", "sales"]
    assert sorted(t.id for t in catalog.tables) == [
        "public.customers", "public.events", "public.measurements", "sales.big_orders", "sales.order_lines"]

    lines = catalog.table("sales", "order_lines")
    assert lines.kind == "table"
    assert lines.comment == "Bestellpositionen ✓ 🚀"
    assert lines.primary_key == ["line_no", "order_id"]
    assert lines.unique_keys == [["sku", "order_id"]]
    assert [(c.name, c.type, c.nullable) for c in lines.columns] == [
        ("order_id", "bigint", False),
        ("line_no", "smallint", False),
        ("sku", "character varying(32)", False),
        ("price", "numeric(12,2)", False),
        ("created_at", "timestamp with time zone", False),
        ("note", "text", True),
    ]
    assert [c.ordinal for c in lines.columns] == [1, 2, 3, 4, 5, 6]
    assert lines.columns[2].comment == "Artikelnummer"
    assert lines.columns[3].default == "0"
    assert lines.columns[4].default == "now()"
    assert lines.columns[5].default is None
    assert lines.estimated_rows is None  # never analysed

    customers = catalog.table("public", "customers")
    assert customers.primary_key == ["id"]
    assert customers.unique_keys == [["email"]]
    assert customers.columns[0].default == "nextval('customers_id_seq'::regclass)"
    assert customers.estimated_rows == 50

    events = catalog.table("public", "events")
    assert events.primary_key == [] and events.unique_keys == []
    assert [c.type for c in events.columns] == ["jsonb", "timestamp(3) without time zone"]

    view = catalog.table("sales", "big_orders")
    assert view.kind == "view"
    assert view.estimated_rows is None
    assert [(c.name, c.type) for c in view.columns] == [("order_id", "bigint"), ("price", "numeric(12,2)")]

    measurements = catalog.table("public", "measurements")
    assert measurements.kind == "table"
    assert measurements.primary_key == ["id", "taken"]
    assert measurements.estimated_rows == 30  # summed over its partitions
    with pytest.raises(KeyError):
        catalog.table("public", "measurements_2024")  # partitions are represented by their parent


def test_system_schemas_are_left_out(postgres: PostgresServer, shop: str, pg_config: ConfigFactory) -> None:
    catalog = discover(pg_config(postgres, database=shop))
    for system in ("pg_catalog", "information_schema", "pg_toast"):
        assert system not in catalog.databases
    assert not [s for s in catalog.databases if s.startswith("pg_")]
    assert {t.database for t in catalog.tables} == {"public", "sales"}


def test_discover_without_a_database_reads_postgres(postgres: PostgresServer, pg_config: ConfigFactory) -> None:
    catalog = discover(pg_config(postgres, database=""))
    assert "public" in catalog.databases


def test_discover_unknown_database_raises_connection_failed(
        postgres: PostgresServer, pg_config: ConfigFactory) -> None:
    with pytest.raises(ConnectionFailed, match="does not exist") as info:
        discover(pg_config(postgres, database="missing_db"))
    assert "CREATE DATABASE" in info.value.hint


def test_discover_with_a_wrong_password_raises_without_the_password(
        postgres: PostgresServer, pg_config: ConfigFactory) -> None:
    secret = "Not-The-Password-55"
    with pytest.raises(ConnectionFailed, match="password authentication failed") as info:
        discover(pg_config(postgres, password=secret))
    assert secret not in str(info.value)


def test_discover_on_a_closed_port_raises_connection_failed(
        postgres: PostgresServer, pg_config: ConfigFactory) -> None:
    with pytest.raises(ConnectionFailed, match="refused"):
        discover(pg_config(postgres, port=free_port()))
