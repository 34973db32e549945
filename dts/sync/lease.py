"""One runner per task (invariant 6): a Redis lease with a TTL, renewed while the runner lives.

A second copy of the same job (a redelivered Celery message, a supervisor re-enqueue) cannot
take the lease and exits. If a worker dies, the lease expires and the supervisor re-enqueues.
"""

from __future__ import annotations

import secrets

import redis
from django.conf import settings

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def lease_key(task_id: int) -> str:
    return f"dts:lease:task:{task_id}"


class TaskLease:
    def __init__(self, task_id: int, ttl_seconds: float | None = None, client: redis.Redis | None = None) -> None:
        self.key = lease_key(task_id)
        self.ttl_ms = int((ttl_seconds or settings.DTS_LEASE_TTL_SECONDS) * 1000)
        self.token = secrets.token_hex(16)
        self.client = client or redis_client()

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def renew(self) -> bool:
        return bool(self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.token)

    @staticmethod
    def is_held(task_id: int, client: redis.Redis | None = None) -> bool:
        return bool((client or redis_client()).exists(lease_key(task_id)))
