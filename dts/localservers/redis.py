"""A throwaway Redis: no persistence, bound to loopback."""

from __future__ import annotations

import socket

from dts.localservers.base import LocalServer, require_binary


class RedisServer(LocalServer):
    name = "redis"

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
        ]

    def is_ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
