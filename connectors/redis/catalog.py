"""Catalog discovery for Redis: the Stream keys of one DB index, with their lengths.

Only streams are listed (they are what the sink writes); other key types are left out. The scan
stops after MAX_STREAMS streams so a huge keyspace cannot stall discovery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import redis
from redis.exceptions import AuthenticationError, AuthenticationWrongNumberOfArgsError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from connectors.base import Catalog, Table
from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, ConnectorError
from connectors.redis import address, db_index, error_text

MAX_STREAMS = 10_000
SCAN_COUNT = 1000  # keys per SCAN round trip
BATCH = 1000  # commands per pipeline


def scan_streams(client: redis.Redis) -> Iterator[str]:
    """Stream keys, possibly repeated (SCAN may return a key twice)."""
    try:
        cursor, keys = client.scan(0, count=SCAN_COUNT, _type="stream")
    except ResponseError:
        # SCAN ... TYPE arrived in Redis 6.0; on 5.x ask TYPE for each key instead.
        yield from _scan_asking_type(client)
        return
    yield from map(_text, keys)
    while cursor != 0:
        cursor, keys = client.scan(cursor, count=SCAN_COUNT, _type="stream")
        yield from map(_text, keys)


def _text(key: bytes | str) -> str:
    # The client decodes replies; this keeps the type honest should a caller pass a raw client.
    return key.decode() if isinstance(key, bytes) else key


def _scan_asking_type(client: redis.Redis) -> Iterator[str]:
    keys: list[str] = []
    for key in client.scan_iter(count=SCAN_COUNT):
        keys.append(_text(key))
        if len(keys) == BATCH:
            yield from _only_streams(client, keys)
            keys = []
    yield from _only_streams(client, keys)


def _only_streams(client: redis.Redis, keys: list[str]) -> Iterator[str]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    for key, kind in zip(keys, pipe.execute(), strict=True):
        if kind == "stream":
            yield key


def stream_lengths(client: redis.Redis, keys: list[str]) -> list[int]:
    lengths: list[int] = []
    for start in range(0, len(keys), BATCH):
        pipe = client.pipeline(transaction=False)
        for key in keys[start:start + BATCH]:
            pipe.xlen(key)
        lengths.extend(int(n) for n in pipe.execute())
    return lengths


def discover_catalog(config: ConnectionConfig, client_factory: Callable[[], redis.Redis]) -> Catalog:
    where = address(config)
    try:
        client = client_factory()
    except (ValueError, TypeError) as exc:
        raise ConnectionFailed(f"invalid Redis connection settings: {error_text(exc, config)}",
                               hint="set database to a DB index (0-15 by default)") from exc
    database = f"db{db_index(config)}"
    with client:
        try:
            found: dict[str, None] = {}  # ordered set: SCAN may repeat a key
            for key in scan_streams(client):
                found[key] = None
                if len(found) >= MAX_STREAMS:
                    break
            keys = list(found)
            lengths = stream_lengths(client, keys)
        except (AuthenticationError, AuthenticationWrongNumberOfArgsError) as exc:
            # Listed before ConnectionError, the base class of AuthenticationError.
            raise ConnectionFailed(f"login to Redis at {where} as '{config.user or 'default'}' refused: "
                                   f"{error_text(exc, config)}",
                                   hint="check the password (and user, for an ACL user)") from exc
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise ConnectionFailed(f"cannot reach Redis at {where}: {error_text(exc, config)}",
                                   hint="check host and port, bind/protected-mode, firewalls and the ssl option"
                                   ) from exc
        except RedisError as exc:
            raise ConnectorError(f"listing streams in Redis at {where} ({database}) failed: "
                                 f"{error_text(exc, config)}",
                                 hint="the user needs +scan +type +xlen and read access to the keys") from exc
    tables = [Table(database=database, name=key, estimated_rows=length, kind="stream")
              for key, length in sorted(zip(keys, lengths, strict=True))]
    return Catalog(engine="redis", tables=tables, databases=[database])
