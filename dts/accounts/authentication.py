"""Token authentication for programs: 'Authorization: Bearer dts_…' (or 'Token dts_…')."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions

from dts.accounts.models import ApiToken

# Avoid a write per request: last_used_at is refreshed at most once a minute.
LAST_USED_RESOLUTION_SECONDS = 60


def user_for_key(key: str) -> Any | None:
    token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request: Any) -> tuple[Any, None] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        user = user_for_key(header[1].decode(errors="replace"))
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API token.")
        return user, None

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'
