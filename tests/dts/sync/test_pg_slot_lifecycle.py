"""A PostgreSQL-source task's replication slot: named per task, shown by the pre-check, dropped with the task,
and reported as orphaned when its task was deleted without it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.postgresql.source import PostgreSQLSource
from dts.datasources.models import Datasource
from dts.localservers import PostgresServer
from dts.sync.models import SyncTask, TaskPrecheck
from dts.sync.prechecks import PrecheckRunner
from dts.sync.specs import spec_for
from tests.connectors.postgresql.conftest import PgSql, drop_slots
from tests.dts.conftest import Personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def source_sql(postgres: PostgresServer, pg_db: str) -> Iterator[PgSql]:
    sql = PgSql(postgres, pg_db)
    sql("CREATE TABLE public.orders (id int PRIMARY KEY, v text)")
    sql("CREATE TABLE public.nothing (id int PRIMARY KEY)")
    sql("ALTER TABLE public.nothing REPLICA IDENTITY NOTHING")
    yield sql
    sql.close()
    drop_slots(postgres, pg_db)


@pytest.fixture
def pair(personas: Personas, postgres: PostgresServer, pg_db: str, source_sql: PgSql) -> tuple[Datasource, Datasource]:
    common = {"workspace": personas.workspace, "engine": "postgresql", "host": postgres.host, "port": postgres.port,
              "user": postgres.user, "password": postgres.password, "database": pg_db}
    return (Datasource.objects.create(name="pg-src", **common),
            Datasource.objects.create(name="pg-dst", options={}, **common))


def create_task(personas: Personas, pair: tuple[Datasource, Datasource], name: str, tables: list[str]) -> SyncTask:
    client = personas.client(personas.operator)
    created = client.post("/api/tasks/", {"workspace": personas.workspace.pk, "name": name, "source": pair[0].pk,
                                          "target": pair[1].pk, "mode": "full+incremental", "tables": tables},
                          format="json")
    assert created.status_code == 201, created.content
    return SyncTask.objects.get(pk=created.json()["id"])


def start_stream_setup(task: SyncTask) -> PostgreSQLSource:
    """What a starting task does first on its source: read the schemas, then take the position (slot created)."""
    task.allocate_server_id()  # as the start action does
    spec = spec_for(task)
    source = PostgreSQLSource(spec.source)
    for mapping in spec.tables:
        source.table_schema(mapping.source)
    source.current_position()
    return source


def slots(sql: PgSql) -> list[str]:
    return [row[0] for row in sql("SELECT slot_name::text FROM pg_replication_slots ORDER BY 1")]


def publications(sql: PgSql) -> list[str]:
    return [row[0] for row in sql("SELECT pubname::text FROM pg_publication ORDER BY 1")]


def run_precheck(task: SyncTask) -> dict[str, Any]:
    check = TaskPrecheck.objects.create(task=task)
    PrecheckRunner(check.pk).run()
    check.refresh_from_db()
    assert check.result is not None, check.error
    return {item["name"]: item for item in check.result["items"]}


def test_the_slot_is_named_for_the_task_and_dropped_with_it(personas: Personas, pair: Any, source_sql: PgSql) -> None:
    task = create_task(personas, pair, "orders", ["public.orders"])
    spec = spec_for(task)
    assert spec.source.options["slot_name"] == f"dts_task_{task.pk}"
    source = start_stream_setup(task)
    source_sql("INSERT INTO public.orders SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g")
    items = run_precheck(task)
    slot = items["source.replication_slot"]
    assert slot["status"] == "passed" and f"dts_task_{task.pk}" in slot["title"]
    retained = source.slot_state()["retained_wal_bytes"]  # type: ignore[index]
    assert retained > 200_000 and "bytes of WAL" in slot["detail"]
    assert items["source.replica_identity:public.orders"]["status"] == "passed"
    assert items["source.orphaned_task_slots"]["status"] == "passed"
    source.close()
    assert slots(source_sql) == [f"dts_task_{task.pk}"] and publications(source_sql) == [f"dts_task_{task.pk}"]
    viewer = personas.client(personas.viewer)
    assert viewer.delete(f"/api/tasks/{task.pk}/").status_code in (403, 404)
    assert slots(source_sql) == [f"dts_task_{task.pk}"]
    deleted = personas.client(personas.operator).delete(f"/api/tasks/{task.pk}/")
    assert deleted.status_code == 204, deleted.content
    assert slots(source_sql) == [] and publications(source_sql) == []


def test_a_slot_kept_on_delete_is_reported_as_orphaned(personas: Personas, pair: Any, source_sql: PgSql) -> None:
    kept = create_task(personas, pair, "kept", ["public.orders"])
    start_stream_setup(kept).close()
    operator = personas.client(personas.operator)
    assert operator.delete(f"/api/tasks/{kept.pk}/?keep_slot=true").status_code == 204
    assert slots(source_sql) == [f"dts_task_{kept.pk}"]
    other = create_task(personas, pair, "other", ["public.orders"])
    items = run_precheck(other)
    orphans = items["source.orphaned_task_slots"]
    assert orphans["status"] == "warning"
    assert f"dts_task_{kept.pk}" in orphans["detail"]
    assert f"pg_drop_replication_slot('dts_task_{kept.pk}')" in orphans["hint"]


def test_the_precheck_refuses_a_table_whose_changes_cannot_be_published(personas: Personas, pair: Any,
                                                                       source_sql: PgSql) -> None:
    task = create_task(personas, pair, "nothing", ["public.nothing"])
    item = run_precheck(task)["source.replica_identity:public.nothing"]
    assert item["status"] == "failed" and "REPLICA IDENTITY NOTHING" in item["detail"]
    assert 'ALTER TABLE "public"."nothing" REPLICA IDENTITY' in item["hint"]


def test_the_monitor_shows_the_slots_retained_wal(personas: Personas, pair: Any, source_sql: PgSql,
                                                  redis_server: Any) -> None:
    import time

    from dts.monitor import lag, retention
    from dts.monitor.source_head import slots_key
    from dts.sync.lease import redis_client

    task = create_task(personas, pair, "watched", ["public.orders"])
    client = redis_client()
    client.delete(slots_key(pair[0].pk))
    assert lag.measure(task, client, time.time()).retained_wal_bytes is None  # no slot yet
    source = start_stream_setup(task)
    source_sql("INSERT INTO public.orders SELECT g, repeat('x', 100) FROM generate_series(1, 3000) g")
    client.delete(slots_key(pair[0].pk))
    measured = lag.measure(task, client, time.time())
    expected = source.slot_state()["retained_wal_bytes"]  # type: ignore[index]
    assert measured.retained_wal_bytes is not None and measured.retained_wal_bytes >= 300_000
    assert abs(measured.retained_wal_bytes - expected) < 100_000  # one read apart: only background WAL differs
    estimate = retention.estimate(task, measured, client, time.time())
    assert estimate is not None and estimate.seconds_left is None
    assert f"dts_task_{task.pk}" in estimate.detail and "bytes of WAL" in estimate.detail
    source.close()


def test_caught_up_compares_lsns() -> None:
    from dts.monitor.lag import is_caught_up

    assert is_caught_up("postgresql", {"lsn": "1/0"}, {"lsn": "0/FFFFFFFF"}) is True  # numeric, not text order
    assert is_caught_up("postgresql", {"lsn": "0/9"}, {"lsn": "0/10"}) is False
    assert is_caught_up("postgresql", {"lsn": "0/10"}, {"lsn": "0/10"}) is True
    assert is_caught_up("postgresql", {"lsn": "bad"}, {"lsn": "0/10"}) is None


def test_a_task_never_started_is_deleted_without_asking_the_source(personas: Personas, pair: Any) -> None:
    task = create_task(personas, pair, "never", ["public.orders"])
    Datasource.objects.filter(pk=pair[0].pk).update(port=1)  # nothing listens there: it must not be asked
    assert personas.client(personas.operator).delete(f"/api/tasks/{task.pk}/").status_code == 204


def test_a_source_that_cannot_be_reached_keeps_the_task(personas: Personas, pair: Any, source_sql: PgSql) -> None:
    task = create_task(personas, pair, "unreachable", ["public.orders"])
    start_stream_setup(task).close()
    Datasource.objects.filter(pk=pair[0].pk).update(port=1)
    operator = personas.client(personas.operator)
    refused = operator.delete(f"/api/tasks/{task.pk}/")
    assert refused.status_code == 400 and "keep_slot=true" in refused.content.decode()
    assert "postgres" not in refused.content.decode().replace("postgresql", "")  # no password in the answer
    assert SyncTask.objects.filter(pk=task.pk).exists() and slots(source_sql) == [f"dts_task_{task.pk}"]
    assert operator.delete(f"/api/tasks/{task.pk}/?keep_slot=true").status_code == 204
