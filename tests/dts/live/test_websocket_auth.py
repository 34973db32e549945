"""WebSocket connections authenticate like the API and see only their workspaces."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from dts.accounts import audit
from dts.accounts.models import ApiToken
from dts.asgi import application
from tests.dts.conftest import Personas

pytestmark = pytest.mark.django_db(transaction=True)


async def _connect(path: str, subprotocols: list[str] | None = None) -> tuple[WebsocketCommunicator, bool, Any]:
    communicator = WebsocketCommunicator(application, path, subprotocols=subprotocols,
                                         headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")])
    connected, code_or_protocol = await communicator.connect(timeout=5)
    return communicator, connected, code_or_protocol


def test_an_anonymous_connection_is_refused(personas: Personas) -> None:
    async def scenario() -> None:
        _, connected, code = await _connect(f"/ws/workspaces/{personas.workspace.pk}/")
        assert not connected and code == 4401

    async_to_sync(scenario)()


def test_a_token_holder_outside_the_workspace_is_refused(personas: Personas) -> None:
    _, key = ApiToken.issue(personas.outsider, "ws")

    async def scenario() -> None:
        _, connected, code = await _connect(f"/ws/workspaces/{personas.workspace.pk}/", [f"bearer.{key}"])
        assert not connected and code == 4404

    async_to_sync(scenario)()


def test_a_bad_token_is_refused(personas: Personas) -> None:
    async def scenario() -> None:
        _, connected, code = await _connect(f"/ws/workspaces/{personas.workspace.pk}/",
                                                       ["bearer.dts_not-a-real-token"])
        assert not connected and code == 4401

    async_to_sync(scenario)()


def test_a_member_receives_the_workspace_events(personas: Personas) -> None:
    _, key = ApiToken.issue(personas.viewer, "ws")

    async def scenario() -> None:
        communicator, connected, protocol = await _connect(f"/ws/workspaces/{personas.workspace.pk}/",
                                                           [f"bearer.{key}"])
        assert connected and protocol == f"bearer.{key}"
        assert await communicator.receive_json_from(timeout=5) == {"type": "hello",
                                                                   "workspace": personas.workspace.pk}
        from channels.db import database_sync_to_async

        await database_sync_to_async(audit.record)("start", actor=personas.operator, workspace=personas.workspace,
                                                   object_repr="nightly-sync")
        event = await communicator.receive_json_from(timeout=5)
        assert event["action"] == "start" and event["object"] == "nightly-sync" and event["actor"] == "oscar"
        await communicator.disconnect()

    async_to_sync(scenario)()
