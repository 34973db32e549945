"""Workspace isolation and roles, through the API as each persona sees it."""

from __future__ import annotations

import pytest

from dts.datasources.models import Datasource
from tests.dts.conftest import Personas

pytestmark = pytest.mark.django_db


def make_datasource(personas: Personas, workspace: object = None, name: str = "orders-db") -> Datasource:
    return Datasource.objects.create(workspace=workspace or personas.workspace, name=name, engine="mysql",
                                     host="db.internal", port=3306, user="dts", password="s3cret-pw")


def test_it_hides_other_workspaces_from_the_outsider(personas: Personas) -> None:
    datasource = make_datasource(personas)
    client = personas.client(personas.outsider)
    listing = client.get("/api/datasources/").json()
    assert listing["count"] == 0
    assert client.get(f"/api/datasources/{datasource.pk}/").status_code == 404
    assert client.patch(f"/api/datasources/{datasource.pk}/", {"host": "evil"}, format="json").status_code == 404
    assert client.delete(f"/api/datasources/{datasource.pk}/").status_code == 404
    assert client.post(f"/api/datasources/{datasource.pk}/check/").status_code == 404
    assert client.get(f"/api/datasources/{datasource.pk}/catalog/").status_code == 404
    assert client.get(f"/api/workspaces/{personas.workspace.pk}/").status_code == 404
    assert client.get(f"/api/workspaces/{personas.workspace.pk}/members/").status_code == 404
    assert Datasource.objects.get(pk=datasource.pk).host == "db.internal"


def test_it_refuses_creating_in_a_workspace_the_caller_is_not_in(personas: Personas) -> None:
    client = personas.client(personas.outsider)
    response = client.post("/api/datasources/", {"workspace": personas.workspace.pk, "name": "x", "engine": "mysql",
                                                 "host": "h"}, format="json")
    assert response.status_code == 400
    assert "workspace" in response.json()
    assert not Datasource.objects.filter(name="x").exists()


def test_the_viewer_reads_but_cannot_change_anything(personas: Personas) -> None:
    datasource = make_datasource(personas)
    client = personas.client(personas.viewer)
    assert client.get("/api/datasources/").json()["count"] == 1
    assert client.get(f"/api/datasources/{datasource.pk}/").status_code == 200
    assert client.post("/api/datasources/", {"workspace": personas.workspace.pk, "name": "new", "engine": "mysql",
                                             "host": "h"}, format="json").status_code == 403
    assert client.patch(f"/api/datasources/{datasource.pk}/", {"host": "x"}, format="json").status_code == 403
    assert client.delete(f"/api/datasources/{datasource.pk}/").status_code == 403
    assert client.post(f"/api/datasources/{datasource.pk}/check/").status_code == 403
    assert client.post(f"/api/workspaces/{personas.workspace.pk}/members/",
                       {"username": "xander", "role": "owner"}, format="json").status_code == 403
    rename = client.patch(f"/api/workspaces/{personas.workspace.pk}/", {"name": "mine"}, format="json")
    assert rename.status_code == 403
    assert Datasource.objects.count() == 1
    assert Datasource.objects.get().host == "db.internal"


def test_the_operator_manages_datasources_but_not_members(personas: Personas) -> None:
    client = personas.client(personas.operator)
    fields = {"workspace": personas.workspace.pk, "name": "pg", "engine": "postgresql", "host": "pg.internal",
              "user": "dts", "password": "pw"}
    created = client.post("/api/datasources/", fields, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["port"] == 5432  # the engine's default port
    pk = created.json()["id"]
    assert client.patch(f"/api/datasources/{pk}/", {"host": "pg2.internal"}, format="json").status_code == 200
    assert client.post(f"/api/workspaces/{personas.workspace.pk}/members/",
                       {"username": "xander", "role": "viewer"}, format="json").status_code == 403
    assert client.delete(f"/api/datasources/{pk}/").status_code == 204


def test_the_owner_manages_members_but_cannot_drop_the_last_owner(personas: Personas) -> None:
    client = personas.client(personas.owner)
    url = f"/api/workspaces/{personas.workspace.pk}/members/"
    added = client.post(url, {"username": "xander", "role": "viewer"}, format="json")
    assert added.status_code == 201, added.content
    assert personas.workspace.role_of(personas.outsider) == "viewer"
    duplicate = client.post(url, {"username": "xander", "role": "viewer"}, format="json")
    assert duplicate.status_code == 400
    own = next(m for m in client.get(url).json()["results"] if m["username"] == "olivia")
    demote = client.patch(f"{url}{own['id']}/", {"role": "viewer"}, format="json")
    assert demote.status_code == 400 and "role" in demote.json()
    assert client.delete(f"{url}{own['id']}/").status_code == 400
    assert personas.workspace.role_of(personas.owner) == "owner"


def test_a_member_of_two_workspaces_sees_both_and_nothing_else(personas: Personas) -> None:
    make_datasource(personas, name="a")
    make_datasource(personas, workspace=personas.other_workspace, name="b")
    personas.other_workspace.memberships.create(user=personas.viewer, role="viewer")
    third = type(personas.workspace).objects.create(name="third")
    make_datasource(personas, workspace=third, name="c")
    names = {d["name"] for d in personas.client(personas.viewer).get("/api/datasources/").json()["results"]}
    assert names == {"a", "b"}


def test_a_superuser_sees_every_workspace(personas: Personas) -> None:
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    make_datasource(personas, name="a")
    make_datasource(personas, workspace=personas.other_workspace, name="b")
    assert personas.client(admin).get("/api/datasources/").json()["count"] == 2


def test_anonymous_requests_are_refused(personas: Personas) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    for url in ("/api/datasources/", "/api/workspaces/", "/api/audit-log/", "/api/tokens/", "/api/me/",
                "/api/schema/"):
        assert client.get(url).status_code in (401, 403), url


def test_any_user_can_create_a_workspace_and_owns_it(personas: Personas) -> None:
    client = personas.client(personas.viewer)
    created = client.post("/api/workspaces/", {"name": "vera-lab"}, format="json")
    assert created.status_code == 201
    assert created.json()["my_role"] == "owner"
    me = client.get("/api/me/").json()
    assert {"name": "vera-lab", "role": "owner"} in [{k: w[k] for k in ("name", "role")} for w in me["workspaces"]]
