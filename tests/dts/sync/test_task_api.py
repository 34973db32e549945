"""Sync tasks through the API: validation naming the field, roles, state changes, audit."""

from __future__ import annotations

from typing import Any

import pytest

from dts.accounts.models import AuditLog
from dts.datasources.models import Datasource
from dts.sync.models import Status, SyncTask
from tests.dts.conftest import Personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(personas: Personas) -> tuple[Datasource, Datasource]:
    source = Datasource.objects.create(workspace=personas.workspace, name="mysql-src", engine="mysql",
                                       host="127.0.0.1", port=3306, user="root", password="pw")
    target = Datasource.objects.create(workspace=personas.workspace, name="pg-dst", engine="postgresql",
                                       host="127.0.0.1", port=5432, user="postgres", password="pw", database="dw")
    return source, target


def body(personas: Personas, pair: tuple[Datasource, Datasource], **extra: Any) -> dict[str, Any]:
    return {"workspace": personas.workspace.pk, "name": "orders", "source": pair[0].pk, "target": pair[1].pk,
            "mode": "full+incremental", "tables": ["shop.orders"]} | extra


def test_an_invalid_spec_is_refused_naming_the_field(personas: Personas, pair: Any) -> None:
    client = personas.client(personas.operator)
    response = client.post("/api/tasks/", body(personas, pair, tables=["orders"],
                                               options={"batch_size": 0, "ddl_policy": "maybe"}), format="json")
    assert response.status_code == 400
    errors = response.json()
    assert any("tables[0]" in message for message in errors["tables"])
    assert any("options.batch_size" in message for message in errors["options"])
    assert any("options.ddl_policy" in message for message in errors["options"])


def test_datasources_must_belong_to_the_tasks_workspace(personas: Personas, pair: Any) -> None:
    foreign = Datasource.objects.create(workspace=personas.other_workspace, name="theirs", engine="mysql",
                                        host="h", port=3306)
    client = personas.client(personas.operator)
    response = client.post("/api/tasks/", body(personas, pair, source=foreign.pk), format="json")
    assert response.status_code == 400 and "source" in response.json()


def test_the_viewer_cannot_create_or_start_and_the_outsider_sees_nothing(personas: Personas, pair: Any) -> None:
    task = SyncTask.objects.create(workspace=personas.workspace, name="t", source=pair[0], target=pair[1],
                                   tables=["shop.orders"])
    viewer = personas.client(personas.viewer)
    assert viewer.post("/api/tasks/", body(personas, pair, name="v"), format="json").status_code == 403
    assert viewer.post(f"/api/tasks/{task.pk}/start/").status_code == 403
    assert viewer.post(f"/api/tasks/{task.pk}/stop/").status_code == 403
    assert viewer.get(f"/api/tasks/{task.pk}/").status_code == 200
    outsider = personas.client(personas.outsider)
    for path in ("", "start/", "progress/", "logs/", "spec/", "checkpoint/"):
        method = outsider.post if path == "start/" else outsider.get
        assert method(f"/api/tasks/{task.pk}/{path}").status_code == 404, path
    task.refresh_from_db()
    assert task.status == Status.NEW


def test_start_queues_allocates_a_server_id_and_is_audited(personas: Personas, pair: Any) -> None:
    client = personas.client(personas.operator)
    created = client.post("/api/tasks/", body(personas, pair), format="json")
    assert created.status_code == 201, created.content
    other = client.post("/api/tasks/", body(personas, pair, name="second"), format="json").json()
    pk = created.json()["id"]
    started = client.post(f"/api/tasks/{pk}/start/")
    assert started.status_code == 202
    assert started.json()["status"] == "queued" and started.json()["desired_state"] == "running"
    client.post(f"/api/tasks/{other['id']}/start/")
    ids = set(SyncTask.objects.values_list("server_id", flat=True))
    assert len(ids) == 2 and None not in ids
    assert client.post(f"/api/tasks/{pk}/start/").status_code == 400  # already queued
    assert client.delete(f"/api/tasks/{pk}/").status_code == 400  # active tasks cannot be deleted
    actions = list(AuditLog.objects.filter(object_type="sync.synctask", object_id=str(pk))
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["create", "start"]


def test_the_exported_spec_has_no_passwords(personas: Personas, pair: Any) -> None:
    client = personas.client(personas.operator)
    pk = client.post("/api/tasks/", body(personas, pair), format="json").json()["id"]
    spec = client.get(f"/api/tasks/{pk}/spec/").json()
    assert spec["source"]["host"] == "127.0.0.1" and "password" not in spec["source"]
    assert "password" not in spec["target"] and spec["tables"] == ["shop.orders"]


def test_status_changes_follow_the_state_machine(personas: Personas, pair: Any) -> None:
    from dts.sync.models import InvalidTransition

    task = SyncTask.objects.create(workspace=personas.workspace, name="t", source=pair[0], target=pair[1],
                                   tables=["shop.orders"])
    with pytest.raises(InvalidTransition):
        task.mark_running()  # NEW cannot run before it is queued
    task.request_start()
    task.mark_running()
    task.mark_failed("boom")
    assert (task.status, task.status_message, task.desired_state) == ("failed", "boom", "stopped")
    with pytest.raises(InvalidTransition):
        task.mark_completed()
