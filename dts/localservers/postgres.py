"""A throwaway PostgreSQL with wal_level=logical, run as the 'postgres' OS user when we are root."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg

from dts.localservers.base import LocalServer, ServerStartError

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def pg_binary(name: str) -> str:
    for directory in PG_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise ServerStartError(
            f"PostgreSQL's '{name}' is not installed; install the Debian package 'postgresql-15' "
            "or run 'make install'"
        )
    return found


class PostgresServer(LocalServer):
    name = "postgres"
    user = "postgres"
    password = "postgres"  # noqa: S105  (a throwaway local server's superuser)
    ready_timeout = 60.0

    def __init__(self, *args: object, settings: dict[str, str] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.settings = {
            "wal_level": "logical",
            "max_replication_slots": "20",
            "max_wal_senders": "20",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "256MB",
            "max_connections": "200",
            "listen_addresses": "127.0.0.1",
            "timezone": "UTC",
        }
        self.settings.update(settings or {})

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/postgres"

    def _run_as(self) -> dict[str, object]:
        """PostgreSQL refuses to run as root: drop to the 'postgres' account when we are root."""
        if os.getuid() != 0:
            return {}
        account = pwd.getpwnam("postgres")
        return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def prepare(self) -> None:
        run_as = self._run_as()
        if run_as:
            os.chown(self.base_dir, run_as["user"], run_as["group"])  # type: ignore[arg-type]
        if (self.data_dir / "PG_VERSION").exists():
            return
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if run_as:
            os.chown(pwfile, run_as["user"], run_as["group"])  # type: ignore[arg-type]
        result = subprocess.run(
            [pg_binary("initdb"), "-D", str(self.data_dir), "-U", self.user, f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            capture_output=True, text=True, check=False, **run_as,  # type: ignore[arg-type]
        )
        if result.returncode != 0:
            raise ServerStartError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        # Allow replication connections from loopback with a password, as a real deployment would.
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(hba.read_text() + "\nhost replication all 127.0.0.1/32 scram-sha-256\n")

    def command(self) -> list[str]:
        cmd = [pg_binary("postgres"), "-D", str(self.data_dir), "-p", str(self.port),
               "-k", str(self.base_dir)]
        for key, value in self.settings.items():
            cmd += ["-c", f"{key}={value}"]
        return cmd

    def popen_kwargs(self) -> dict[str, object]:
        return self._run_as()

    def is_ready(self) -> bool:
        try:
            self.connect().close()
            return True
        except psycopg.OperationalError:
            return False

    def connect(self, dbname: str = "postgres", **kwargs: object) -> psycopg.Connection:
        return psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               dbname=dbname, autocommit=True, connect_timeout=5, **kwargs)

    def stop(self) -> None:
        # SIGTERM is 'smart' shutdown, which waits for clients; SIGINT is 'fast' and does not.
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        super().stop()

    def connection_params(self) -> dict[str, object]:
        return {"host": self.host, "port": self.port, "user": self.user, "password": self.password}
