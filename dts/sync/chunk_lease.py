"""A lease per snapshot chunk, so a chunk whose worker died can be told from one still loading."""

from __future__ import annotations

import threading

from dts.sync.lease import TaskLease


class ChunkLease(TaskLease):
    def __init__(self, chunk_id: int, ttl_seconds: float | None = None) -> None:
        super().__init__(chunk_id, ttl_seconds)
        self.key = chunk_lease_key(chunk_id)

    def keep_alive(self, stop: threading.Event) -> threading.Thread:
        """Renew in the background until stop is set."""
        interval = max(0.2, self.ttl_ms / 3000)

        def renew() -> None:
            while not stop.wait(interval):
                if not self.renew():
                    return

        thread = threading.Thread(target=renew, name=f"{self.key}-renew", daemon=True)
        thread.start()
        return thread


def chunk_lease_key(chunk_id: int) -> str:
    return f"dts:lease:chunk:{chunk_id}"


def chunk_lease_held(chunk_id: int) -> bool:
    from dts.sync.lease import redis_client

    return bool(redis_client().exists(chunk_lease_key(chunk_id)))
