"""Common lifecycle for a local server process: start, wait until ready, stop by PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class ServerStartError(RuntimeError):
    """A local server did not come up; the message carries the tail of its log."""


def free_port() -> int:
    """Ask the kernel for a port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServerStartError(
            f"'{name}' is not installed; install the Debian package '{package}' "
            f"(apt-get install -y {package}) or run 'make install'"
        )
    return path


class LocalServer:
    """A server owned by this process: own port, own data dir, stopped on exit."""

    name = "server"
    ready_timeout = 30.0

    def __init__(self, base_dir: str | os.PathLike[str] | None = None, port: int | None = None):
        self._owns_dir = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix=f"dts-{self.name}-"))
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.base_dir / f"{self.name}.log"

    def start(self) -> LocalServer:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **self.popen_kwargs(),
        )
        log.close()
        self._wait_ready()
        return self

    def prepare(self) -> None:
        """Create the data dir and configuration; runs before the server starts."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def popen_kwargs(self) -> dict[str, object]:
        return {}

    def is_ready(self) -> bool:
        raise NotImplementedError

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerStartError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.is_ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(f"{self.name} was not ready within {self.ready_timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Terminate the whole process group, then remove the data dir if we made it."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
            except ProcessLookupError:
                pass
        self.process = None
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL, as a crash would; the data dir is kept so the server can be started again."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
