"""The source's head: the position its change log has reached, read at most every few seconds.

Cached in Redis per datasource, so many tasks reading one source cost one query per few
seconds, and a failure is cached too (a dead source costs one timeout, not one per task).
MySQL/MariaDB (binlog file and offset) and PostgreSQL (the flushed WAL LSN) sources have a reader;
other engines answer None (head unknown). For PostgreSQL the task slots' retained WAL is read the same way.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import redis

from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.postgresql.connection import open_connection, redact
from dts.datasources.models import Datasource
from dts.monitor import conf
from dts.monitor.redis_values import hash_as_text
from dts.monitor.source_sql import SourceUnavailable, mysql_queries

HEAD_CACHE_MS = 3000
FAILURE_CACHE_MS = 10000
# Binlog rotations seen, kept for the retention estimate; a few days of entries at most.
ROTATIONS_TTL_SECONDS = 14 * 86400
MAX_FILES_BETWEEN = 1000


@dataclass(frozen=True)
class SourceHead:
    position: dict[str, Any]
    read_at: float


def head_key(datasource_id: int) -> str:
    return f"dts:monitor:head:{datasource_id}"


def rotations_key(datasource_id: int) -> str:
    """Hash: binlog file name → the earliest time it can have been closed (rotated away from)."""
    return f"dts:monitor:binlog-closed:{datasource_id}"


def last_seen_key(datasource_id: int) -> str:
    return f"dts:monitor:head-seen:{datasource_id}"


def mysql_head(config: ConnectionConfig) -> dict[str, Any]:
    (rows,) = mysql_queries(config, "SHOW MASTER STATUS")
    if not rows:
        raise SourceUnavailable(f"binary logging is off on {config.host}:{config.port}: there is no head to read")
    return {"file": str(rows[0][0]), "pos": int(rows[0][1])}


def pg_queries(config: ConnectionConfig, statement: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """One short query on a PostgreSQL source, every wait bounded like the MySQL ones."""
    timeout = conf.head_timeout_seconds()
    config = dataclasses.replace(config, connect_timeout=min(config.connect_timeout, timeout))
    try:
        conn = open_connection(config, query_timeout=timeout)
    except ConnectorError as exc:
        raise SourceUnavailable(str(exc)) from None
    try:
        return conn.execute(statement, args).fetchall()
    except psycopg.Error as exc:
        raise SourceUnavailable(f"{statement.split()[0]}… failed on {config.host}:{config.port}: "
                                f"{redact(' '.join(str(exc).split()), config.password)}") from None
    finally:
        conn.close()


def pg_head(config: ConnectionConfig) -> dict[str, Any]:
    # The flushed end of the WAL: a walsender streams no further, so a caught-up task reaches it.
    ((lsn,),) = pg_queries(config, "SELECT pg_current_wal_flush_lsn()::text")
    return {"lsn": str(lsn)}


READERS: dict[str, Callable[[ConnectionConfig], dict[str, Any]]] = {
    "mysql": mysql_head,
    "postgresql": pg_head,
}


def slots_key(datasource_id: int) -> str:
    return f"dts:monitor:slots:{datasource_id}"


def read_slots(datasource: Datasource, client: redis.Redis) -> dict[str, dict[str, Any]]:
    """A PostgreSQL source's dts_* logical slots (retained WAL bytes, wal_status, safe_wal_size), cached briefly.

    One query per datasource every few seconds, whatever the number of tasks; raises SourceUnavailable.
    """
    key = slots_key(datasource.pk)
    cached = client.get(key)
    if cached is not None:
        data = json.loads(cached)
        if "error" in data:
            raise SourceUnavailable(data["error"])
        return data["slots"]  # type: ignore[no-any-return]
    try:
        rows = pg_queries(datasource.connection_config(), (
            "SELECT slot_name::text, active, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::int8, "
            "coalesce(wal_status, ''), safe_wal_size, confirmed_flush_lsn::text FROM pg_replication_slots "
            "WHERE slot_type = 'logical' AND left(slot_name, 4) = 'dts_'"))
    except SourceUnavailable as exc:
        client.set(key, json.dumps({"error": str(exc)}), px=FAILURE_CACHE_MS)
        raise
    slots = {name: {"active": bool(active), "retained_wal_bytes": int(retained), "wal_status": status,
                    "safe_wal_size": None if safe is None else int(safe), "confirmed_flush_lsn": confirmed}
             for name, active, retained, status, safe, confirmed in rows}
    client.set(key, json.dumps({"slots": slots}), px=HEAD_CACHE_MS)
    return slots


def read_head(datasource: Datasource, client: redis.Redis, now: float | None = None) -> SourceHead | None:
    """The head (possibly a few seconds old), None for engines without a reader; raises SourceUnavailable."""
    reader = READERS.get(datasource.engine)
    if reader is None:
        return None
    now = time.time() if now is None else now
    key = head_key(datasource.pk)
    cached = client.get(key)
    if cached is not None:
        data = json.loads(cached)
        if "error" in data:
            raise SourceUnavailable(data["error"])
        return SourceHead(data["position"], data["read_at"])
    try:
        position = reader(datasource.connection_config())
    except SourceUnavailable as exc:
        client.set(key, json.dumps({"error": str(exc)}), px=FAILURE_CACHE_MS)
        raise
    _note_rotation(client, datasource.pk, position, now)
    client.set(key, json.dumps({"position": position, "read_at": now}), px=HEAD_CACHE_MS)
    return SourceHead(position, now)


def _note_rotation(client: redis.Redis, datasource_id: int, position: dict[str, Any], now: float) -> None:
    """When the head moved to another file, the old one closed after we last saw it open."""
    file = position.get("file")
    seen_key = last_seen_key(datasource_id)
    previous = hash_as_text(client, seen_key)
    previous_file = previous.get("file", "")
    if previous_file and file and previous_file != file:
        # The earliest it can have closed: the last time it was still the head (conservative for retention).
        # Files opened and closed between two reads closed after that moment too.
        seen_at = previous.get("at", str(now))
        for name in _files_between(previous_file, file):
            client.hsetnx(rotations_key(datasource_id), name, seen_at)
        client.expire(rotations_key(datasource_id), ROTATIONS_TTL_SECONDS)
    client.hset(seen_key, mapping={"file": file or "", "at": now})
    client.expire(seen_key, ROTATIONS_TTL_SECONDS)


def closed_times(client: redis.Redis, datasource_id: int) -> dict[str, float]:
    return {name: float(at) for name, at in hash_as_text(client, rotations_key(datasource_id)).items()}


def _files_between(old: str, new: str) -> list[str]:
    """old and the files after it, before new: base.000005 → base.000007 gives .000005 and .000006."""
    old_base, _, old_number = old.rpartition(".")
    new_base, _, new_number = new.rpartition(".")
    if old_base != new_base or not old_number.isdigit() or not new_number.isdigit():
        return [old]  # renamed or unusual names: only the one we saw is certain
    first, last = int(old_number), int(new_number)
    if last <= first or last - first > MAX_FILES_BETWEEN:
        return [old]
    width = len(old_number)
    return [f"{old_base}.{number:0{width}d}" for number in range(first, last)]
