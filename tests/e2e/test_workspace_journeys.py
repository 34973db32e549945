"""Browser journeys that need only the web process: an owner adds a viewer to the workspace and creates an API
token (its key shown once, and it works), and an operator deletes a task through its confirmation."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from dts.accounts.models import ApiToken, AuditLog, Membership
from dts.datasources.models import Datasource
from dts.sync.models import SyncTask
from tests.dts.conftest import Personas
from tests.e2e.conftest import Console, Platform, nav

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(600), pytest.mark.django_db(transaction=True)]


def test_an_owner_adds_a_viewer_and_creates_an_api_token_shown_once(
        platform: Platform, sign_in: Callable[[str], Console], personas: Personas) -> None:
    get_user_model().objects.create_user("nina", "nina@example.com", "pw-nina-123")
    owner = sign_in("olivia")
    page = owner.page
    nav(page, "Workspace")
    page.get_by_test_id("member-username").fill("nina")
    page.get_by_test_id("member-add").click()  # the role defaults to viewer
    members = page.get_by_test_id("members")
    expect(members.get_by_role("row").filter(has_text="nina")).to_be_visible()
    membership = Membership.objects.get(workspace=personas.workspace, user__username="nina")
    assert membership.role == "viewer"
    owner.shot("workspace-members")

    page.get_by_role("tab", name="API tokens").click()
    page.get_by_test_id("token-name").fill("ci")
    page.get_by_test_id("token-create").click()
    key_box = page.get_by_test_id("token-key")
    expect(key_box).not_to_have_value("")
    key = key_box.input_value()
    expect(page.get_by_text("Copy it now: it is shown only once.")).to_be_visible()
    owner.shot("workspace-token-once")
    token = ApiToken.objects.get(user=personas.owner, name="ci")
    assert key.startswith(token.key_prefix)
    # The key works as a bearer token for a program.
    request = urllib.request.Request(f"{platform.url}/api/tasks/",  # noqa: S310 (the local platform)
                                     headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (the local platform)
        assert answer.status == 200 and "results" in json.loads(answer.read())
    # Closed, it is gone: the list shows the prefix only, and a reload never shows the key again.
    page.keyboard.press("Escape")
    tokens = page.get_by_test_id("tokens")
    expect(tokens.get_by_role("row").filter(has_text="ci")).to_contain_text(token.key_prefix)
    page.reload()
    page.get_by_role("tab", name="API tokens").click()
    expect(page.get_by_test_id("tokens").get_by_role("row").filter(has_text="ci")).to_be_visible()
    assert key not in page.content()


def test_an_operator_deletes_a_task_only_after_confirming(
        platform: Platform, sign_in: Callable[[str], Console], personas: Personas) -> None:
    common = {"workspace": personas.workspace, "host": "127.0.0.1", "user": "dts", "password": "secret"}
    source = Datasource.objects.create(name="src", engine="mysql", port=3306, **common)
    target = Datasource.objects.create(name="dst", engine="postgresql", port=5432, database="dw", **common)
    task = SyncTask.objects.create(workspace=personas.workspace, name="to-delete", source=source, target=target,
                                   mode="full", tables=["shop.orders"], created_by=personas.operator)
    operator = sign_in("oscar")
    page = operator.page
    page.goto(f"/tasks/{task.pk}")
    page.get_by_test_id("task-delete").click()
    confirm = page.locator(".ant-popconfirm:visible")
    expect(confirm).to_contain_text("Delete task to-delete?")
    operator.shot("task-delete-confirm")
    confirm.get_by_role("button", name="Cancel").click()
    assert SyncTask.objects.filter(pk=task.pk).exists()  # cancelled: nothing happened

    page.get_by_test_id("task-delete").click()
    page.locator(".ant-popconfirm:visible").get_by_role("button", name="OK").click()
    expect(page).to_have_url(f"{platform.url}/tasks")
    nav(page, "Tasks")
    expect(page.get_by_role("cell", name="to-delete", exact=True)).to_have_count(0)
    assert not SyncTask.objects.filter(pk=task.pk).exists()
    assert AuditLog.objects.filter(action="delete", object_repr__contains="to-delete",
                                   actor=personas.operator).exists()
