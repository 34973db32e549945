"""Redis answers bytes (the shared client does not decode); the monitor reads text."""

from __future__ import annotations

from typing import Any

import redis


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def hash_as_text(client: redis.Redis, key: str) -> dict[str, str]:
    raw: dict[Any, Any] = client.hgetall(key)  # type: ignore[assignment]
    return {text(name): text(value) for name, value in raw.items()}
