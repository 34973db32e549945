"""WebSocket authentication: the console's session cookie, or an API token for programs.

Programs pass the token as the subprotocol 'bearer.<token>' (browsers cannot set headers on a
WebSocket) or as an 'Authorization: Bearer' header where their client can.
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware

from dts.accounts.authentication import user_for_key

SUBPROTOCOL_PREFIX = "bearer."


def _token_from_scope(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            parts = value.decode(errors="replace").split()
            if len(parts) == 2 and parts[0].lower() in ("bearer", "token"):
                return parts[1]
    for protocol in scope.get("subprotocols", []):
        if protocol.startswith(SUBPROTOCOL_PREFIX):
            return protocol[len(SUBPROTOCOL_PREFIX):]
    return None


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        token = _token_from_scope(scope)
        if token is not None:
            user = await database_sync_to_async(user_for_key)(token)
            if user is not None:
                scope["user"] = user
                scope["auth_subprotocol"] = next(
                    (p for p in scope.get("subprotocols", []) if p.startswith(SUBPROTOCOL_PREFIX)), None)
        return await super().__call__(scope, receive, send)


def authenticated_stack(inner: Any) -> Any:
    """Session auth first (the console), then a token, which wins when present."""
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
