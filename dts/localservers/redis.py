"""A throwaway Redis: no persistence, bound to loopback."""

from __future__ import annotations

import os
import socket

from dts.localservers.base import LocalServer, require_binary


class RedisServer(LocalServer):
    name = "redis"

    def __init__(self, base_dir: str | os.PathLike[str] | None = None, port: int | None = None, *,
                 extra_args: list[str] | None = None) -> None:
        super().__init__(base_dir, port)
        # Appended to the command line, e.g. ["--requirepass", "pw"]; later options win in redis-server.
        self.extra_args = list(extra_args or [])

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def command(self) -> list[str]:
        return [
            require_binary("redis-server", "redis-server"),
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.base_dir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            *self.extra_args,
        ]

    def is_ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(16)
                # With requirepass the server is up but refuses an unauthenticated PING.
                return reply.startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False
