"""Datasources through the API: write-only encrypted passwords, checks and catalogs on a real worker."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from tests.dts.conftest import Personas


def create(client: Any, personas: Personas, **fields: Any) -> dict[str, Any]:
    body = {"workspace": personas.workspace.pk, "name": "src", "engine": "mysql", "host": "127.0.0.1"} | fields
    response = client.post("/api/datasources/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
def test_the_password_is_write_only_and_encrypted_at_rest(personas: Personas) -> None:
    client = personas.client(personas.operator)
    created = create(client, personas, password="Pa55-word!")
    assert created["password"] == "********"
    assert client.get(f"/api/datasources/{created['id']}/").json()["password"] == "********"
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM datasources_datasource WHERE id = %s", [created["id"]])
        stored = cursor.fetchone()[0]
    assert "Pa55-word!" not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert Datasource.objects.get(pk=created["id"]).password == "Pa55-word!"

    # Sending the mask back (as a form that round-trips values does) keeps the password.
    client.patch(f"/api/datasources/{created['id']}/", {"password": "********", "host": "h2"}, format="json")
    assert Datasource.objects.get(pk=created["id"]).password == "Pa55-word!"
    client.patch(f"/api/datasources/{created['id']}/", {"password": "new-one"}, format="json")
    assert Datasource.objects.get(pk=created["id"]).password == "new-one"


@pytest.mark.django_db
def test_invalid_fields_are_named_in_the_error(personas: Personas) -> None:
    client = personas.client(personas.operator)
    bad = client.post("/api/datasources/", {"workspace": personas.workspace.pk, "name": "x", "engine": "oracle",
                                            "host": "h", "port": 70000, "options": [1]}, format="json")
    assert bad.status_code == 400
    assert {"engine", "port", "options"} <= set(bad.json())
    create(client, personas, name="dup")
    clash = client.post("/api/datasources/", {"workspace": personas.workspace.pk, "name": "dup", "engine": "mysql",
                                              "host": "h"}, format="json")
    assert clash.status_code == 400 and "name" in clash.json()


def test_check_runs_on_a_worker_against_a_real_mariadb(personas: Personas, celery_worker: Any,
                                                       mariadb: MariaDBServer) -> None:
    client = personas.client(personas.operator)
    created = create(client, personas, port=mariadb.port, user="root", password="")
    response = client.post(f"/api/datasources/{created['id']}/check/?wait=30")
    assert response.status_code == 200, response.content
    job = response.json()
    assert job["status"] == "succeeded", job
    items = {item["name"]: item for item in job["result"]["items"]}
    assert items["log_bin"]["status"] == "passed"
    assert items["binlog_format"]["status"] == "passed"
    assert job["result"]["usable_as_source"] is True
    datasource = client.get(f"/api/datasources/{created['id']}/").json()
    assert datasource["last_check_status"] in ("passed", "warning")
    assert datasource["last_checked_at"] is not None


def test_check_reports_a_wrong_password_without_revealing_it(personas: Personas, celery_worker: Any,
                                                             mariadb: MariaDBServer) -> None:
    conn = mariadb.connect()
    conn.cursor().execute("CREATE USER IF NOT EXISTS 'dts_ck'@'%' IDENTIFIED BY 'right-password'")
    client = personas.client(personas.operator)
    created = create(client, personas, port=mariadb.port, user="dts_ck", password="Wrong-Pass-77")
    job = client.post(f"/api/datasources/{created['id']}/check/?wait=30").json()
    items = {item["name"]: item for item in job["result"]["items"]}
    assert items["authentication"]["status"] == "failed"
    assert items["authentication"]["hint"]
    assert "Wrong-Pass-77" not in json.dumps(job)
    assert client.get(f"/api/datasources/{created['id']}/").json()["last_check_status"] == "failed"


def test_catalog_lists_tables_of_a_real_postgresql(personas: Personas, celery_worker: Any,
                                                    postgres: PostgresServer, pg_db: str) -> None:
    with postgres.connect(pg_db) as conn:
        conn.execute("CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(12,2), note text)")
    client = personas.client(personas.viewer)
    operator = personas.client(personas.operator)
    created = create(operator, personas, engine="postgresql", port=postgres.port, user="postgres",
                     password="postgres", database=pg_db)
    first = client.get(f"/api/datasources/{created['id']}/catalog/?wait=30")
    assert first.status_code == 200, first.content
    schemas = {db["name"]: db["tables"] for db in first.json()["result"]["databases"]}
    orders = next(t for t in schemas["public"] if t["name"] == "orders")
    assert orders["primary_key"] == ["id"]
    assert [c["name"] for c in orders["columns"]] == ["id", "amount", "note"]

    # The catalog is cached until a refresh is asked for.
    with postgres.connect(pg_db) as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY)")
    cached = client.get(f"/api/datasources/{created['id']}/catalog/").json()
    assert cached["id"] == first.json()["id"]
    refreshed = client.get(f"/api/datasources/{created['id']}/catalog/?refresh=1&wait=30").json()
    names = {t["name"] for db in refreshed["result"]["databases"] for t in db["tables"]}
    assert {"orders", "customers"} <= names


def test_without_waiting_the_api_answers_202_with_a_job_to_poll(personas: Personas, celery_worker: Any,
                                                               mariadb: MariaDBServer) -> None:
    import time

    client = personas.client(personas.operator)
    created = create(client, personas, port=mariadb.port, user="root")
    response = client.post(f"/api/datasources/{created['id']}/check/?wait=0")
    assert response.status_code == 202
    url = response["Location"]
    deadline = time.monotonic() + 30
    job = response.json()
    while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(url).json()
    assert job["status"] == "succeeded"
    assert personas.client(personas.outsider).get(url).status_code == 404
