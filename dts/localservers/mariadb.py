"""A throwaway MariaDB with a ROW binlog and full row metadata, as CDC needs."""

from __future__ import annotations

import os
import subprocess

import pymysql

from dts.localservers.base import LocalServer, ServerStartError, require_binary


class MariaDBServer(LocalServer):
    name = "mariadb"
    user = "root"
    password = ""

    def __init__(self, *args: object, server_id: int = 1, binlog: bool = True,
                 extra_config: dict[str, str] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.server_id = server_id
        self.binlog = binlog
        self.extra_config = extra_config or {}

    @property
    def defaults_file(self) -> str:
        return str(self.base_dir / "my.cnf")

    @property
    def socket_path(self) -> str:
        return str(self.base_dir / "mysqld.sock")

    def config(self) -> dict[str, str]:
        data = self.base_dir / "data"
        cfg = {
            "datadir": str(data),
            "port": str(self.port),
            "bind-address": self.host,
            "socket": self.socket_path,
            "pid-file": str(self.base_dir / "mysqld.pid"),
            "server_id": str(self.server_id),
            "character-set-server": "utf8mb4",
            "collation-server": "utf8mb4_general_ci",
            "innodb_buffer_pool_size": "256M",
            "innodb_flush_log_at_trx_commit": "2",
            "sync_binlog": "0",
            "skip-name-resolve": "1",
            "max_connections": "500",
            "log-error": str(self.base_dir / "error.log"),
        }
        if self.binlog:
            cfg.update({
                "log_bin": str(data / "binlog"),
                "binlog_format": "ROW",
                "binlog_row_image": "FULL",
                "binlog_row_metadata": "FULL",
            })
        cfg.update(self.extra_config)
        return cfg

    def prepare(self) -> None:
        lines = ["[mysqld]"] + [f"{k}={v}" if v != "" else k for k, v in self.config().items()]
        lines += ["[client]", f"socket={self.socket_path}", f"port={self.port}"]
        (self.base_dir / "my.cnf").write_text("\n".join(lines) + "\n")
        if not (self.base_dir / "data" / "mysql").exists():
            install = require_binary("mariadb-install-db", "mariadb-server")
            result = subprocess.run(
                [install, f"--defaults-file={self.defaults_file}", "--user=" + _os_user(),
                 "--auth-root-authentication-method=normal", "--skip-test-db"],
                capture_output=True, text=True, check=False,
            )
            if result.returncode != 0:
                raise ServerStartError(f"mariadb-install-db failed:\n{result.stdout}\n{result.stderr}")

    def command(self) -> list[str]:
        return [require_binary("mariadbd", "mariadb-server"),
                f"--defaults-file={self.defaults_file}", "--user=" + _os_user()]

    def is_ready(self) -> bool:
        try:
            self.connect().close()
            return True
        except pymysql.err.OperationalError:
            return False

    def connect(self, database: str | None = None, **kwargs: object) -> pymysql.connections.Connection:
        return pymysql.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               database=database, autocommit=True, charset="utf8mb4", **kwargs)

    def log_tail(self, lines: int = 30) -> str:
        err = self.base_dir / "error.log"
        text = err.read_text(errors="replace") if err.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or super().log_tail(lines)

    def connection_params(self) -> dict[str, object]:
        return {"host": self.host, "port": self.port, "user": self.user, "password": self.password}


def _os_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
