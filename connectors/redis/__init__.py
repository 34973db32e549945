"""Redis connector (a sink only: changes are published to Redis Streams for subscribers).

This module opens a redis-py client from a ConnectionConfig and formats its errors; the checks
(check.py), discovery (catalog.py) and the Connector class (connector.py) share them.
config.database is the DB index ("" means 0); config.user is an ACL user (Redis 6+).
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from connectors.config import ConnectionConfig

MIN_STREAMS_VERSION = (5, 0)


def db_index(config: ConnectionConfig) -> int:
    """The DB index from config.database; ValueError names the bad value."""
    text = str(config.database or "0").strip()
    if not text.isdigit():
        raise ValueError(f"database must be a Redis DB index (0, 1, ...), not {text!r}")
    return int(text)


def open_client(config: ConnectionConfig) -> redis.Redis:
    """A client whose connect and every reply are bounded by config.connect_timeout.

    options may carry 'ssl' and the other ssl_* arguments of redis.Redis.
    """
    kwargs: dict[str, Any] = {key: value for key, value in config.options.items() if key.startswith("ssl")}
    return redis.Redis(
        host=config.host,
        port=config.port,
        db=db_index(config),
        username=config.user or None,
        password=config.password or None,
        socket_connect_timeout=config.connect_timeout,
        socket_timeout=config.connect_timeout,
        # redis-py retries connection errors (a refused login among them) with backoff by default;
        # a check must answer within the timeout, so fail on the first error.
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
        **kwargs,
    )


def error_text(exc: BaseException, config: ConnectionConfig) -> str:
    """The client's or server's message, with the password masked."""
    text = str(exc).strip() or type(exc).__name__
    return text.replace(config.password, "***") if config.password else text


def address(config: ConnectionConfig) -> str:
    return f"{config.host}:{config.port}"


def parse_version(text: str) -> tuple[int, ...]:
    """'7.0.15' -> (7, 0, 15); stops at the first part that is not a number."""
    parts: list[int] = []
    for piece in text.split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)
