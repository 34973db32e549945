"""MongoDB catalog discovery against a real wire-protocol server (nx-27017, or DTS_TEST_MONGO_URI)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from bson import Code, Decimal128, Int64, ObjectId

from connectors.base import Table
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed
from connectors.mongodb.catalog import bson_type, infer_columns
from connectors.mongodb.connector import MongoDBConnector
from dts.localservers import free_port
from tests.servers import MongoTarget


def config_for(mongo: MongoTarget, database: str = "") -> ConnectionConfig:
    return ConnectionConfig(engine="mongodb", host=mongo.host, port=mongo.port, user=mongo.user,
                            password=mongo.password, database=database, options=dict(mongo.options))


def columns(table: Table) -> dict[str, tuple[str, bool]]:
    return {column.name: (column.type, column.nullable) for column in table.columns}


@pytest.fixture
def shop(mongo: MongoTarget) -> Iterator[str]:
    """A fresh database with two collections of known documents, dropped afterwards."""
    name = f"dts_cat_{secrets.token_hex(4)}"
    with mongo.client() as client:
        db = client[name]
        db.orders.insert_many([
            {"n": 1, "name": "a", "tags": ["x"]},
            {"n": "two", "name": "b", "extra": None},
            {"n": 3, "name": "c", "placed": datetime(2026, 1, 2, tzinfo=UTC)},
        ])
        db.customers.insert_many([
            {"email": "a@example.com", "age": 30, "address": {"city": "Oslo"}},
            {"email": "b@example.com", "age": 2**40, "vip": True},
        ])
        try:
            yield name
        finally:
            client.drop_database(name)


def test_collections_are_listed_with_id_key_row_estimates_and_inferred_fields(mongo: MongoTarget, shop: str) -> None:
    catalog = MongoDBConnector(config_for(mongo, shop)).discover()

    assert catalog.engine == "mongodb"
    assert catalog.databases == [shop]
    assert [table.name for table in catalog.tables] == ["customers", "orders"]

    orders = catalog.table(shop, "orders")
    assert orders.kind == "collection"
    assert orders.primary_key == ["_id"]
    assert orders.estimated_rows == 3
    assert [column.name for column in orders.columns][:3] == ["_id", "n", "name"]
    assert columns(orders) == {
        "_id": ("objectId", False),
        "n": ("int|string", False),
        "name": ("string", False),
        "tags": ("array", True),
        "extra": ("null", True),
        "placed": ("date", True),
    }

    customers = catalog.table(shop, "customers")
    assert customers.estimated_rows == 2
    assert columns(customers) == {
        "_id": ("objectId", False),
        "email": ("string", False),
        "age": ("int|long", False),
        "address": ("object", True),
        "vip": ("bool", True),
    }


def test_without_a_database_every_user_database_is_listed_but_no_system_one(mongo: MongoTarget, shop: str) -> None:
    with mongo.client() as client:
        assert "admin" in client.list_database_names()  # so leaving it out is the connector's doing

    catalog = MongoDBConnector(config_for(mongo)).discover()

    assert shop in catalog.databases
    assert not {"admin", "local", "config"} & set(catalog.databases)
    assert not {table.database for table in catalog.tables} & {"admin", "local", "config"}
    assert catalog.table(shop, "orders").estimated_rows == 3
    shop_entry = next(entry for entry in catalog.to_dict()["databases"] if entry["name"] == shop)
    assert [table["name"] for table in shop_entry["tables"]] == ["customers", "orders"]


def test_views_are_listed_as_views(mongo: MongoTarget, shop: str) -> None:
    if not mongo.is_real_mongodb:
        pytest.skip("nx-27017 ignores viewOn and creates a plain collection; needs DTS_TEST_MONGO_URI")
    with mongo.client() as client:
        client[shop].command({"create": "big_orders", "viewOn": "orders", "pipeline": [{"$match": {"n": 3}}]})

    catalog = MongoDBConnector(config_for(mongo, shop)).discover()

    view = catalog.table(shop, "big_orders")
    assert view.kind == "view"
    assert view.comment == "view on orders"
    assert [table.name for table in catalog.tables] == ["big_orders", "customers", "orders"]  # no system.views


def test_an_unreachable_server_raises_connection_failed_with_a_hint() -> None:
    port = free_port()
    config = ConnectionConfig(engine="mongodb", host="127.0.0.1", port=port, connect_timeout=1.0)

    with pytest.raises(ConnectionFailed) as raised:
        MongoDBConnector(config).discover()

    assert f"127.0.0.1:{port}" in str(raised.value)
    assert "bindIp" in raised.value.hint


def test_a_refused_login_raises_connection_failed_without_the_password(mongo: MongoTarget) -> None:
    password = f"Wrong-{secrets.token_hex(6)}"
    user = mongo.user or "dts_nobody"
    config = ConnectionConfig(engine="mongodb", host=mongo.host, port=mongo.port, user=user,
                              password=password, options=dict(mongo.options))

    with pytest.raises(ConnectionFailed) as raised:
        MongoDBConnector(config).discover()

    assert user in str(raised.value)
    assert password not in str(raised.value)


@pytest.mark.parametrize(("value", "expected"), [
    (None, "null"), (True, "bool"), (7, "int"), (Int64(7), "long"), (2.5, "double"), ("s", "string"),
    (Code("x()"), "javascript"), (ObjectId(), "objectId"), (datetime.now(UTC), "date"),
    (Decimal128("1.5"), "decimal"), (b"\x00", "binData"), (re.compile("a"), "regex"), ({"a": 1}, "object"),
    ([1], "array"),
])
def test_decoded_values_get_mongodb_type_names(value: object, expected: str) -> None:
    assert bson_type(value) == expected


def test_a_field_null_everywhere_it_appears_is_typed_null_and_nullable() -> None:
    inferred = infer_columns([{"_id": 1, "a": None}, {"_id": 2, "a": None}])
    assert [(c.name, c.type, c.nullable, c.ordinal) for c in inferred] == [("_id", "int", False, 1),
                                                                            ("a", "null", True, 2)]
