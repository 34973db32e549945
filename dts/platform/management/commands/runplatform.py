"""Run the whole platform in the foreground: web (ASGI), Celery worker and beat. Ctrl-C stops all.

Before starting it migrates, creates a first admin when there is none, collects static files,
and starts a local Redis under the state dir when REDIS_URL points at this machine and nothing
answers there.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from honcho.manager import Manager

from dts.localservers.base import port_open
from dts.localservers.redis import RedisServer
from dts.platform.first_admin import ensure_first_admin
from dts.state import state_dir

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class Command(BaseCommand):
    help = "Run web, worker and beat together (the laptop and single-machine setup)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("DTS_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("DTS_PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("DTS_WORKER_CONCURRENCY", "4")),
                            help="Worker processes (each stream holds one while it runs).")
        parser.add_argument("--no-worker", action="store_true", help="Run only the web server.")

    def handle(self, *args: Any, host: str, port: int, concurrency: int, no_worker: bool, **options: Any) -> None:
        redis = self._ensure_redis()
        try:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            self._announce(host, port)
            self._run_processes(host, port, concurrency, no_worker)
        finally:
            if redis is not None:
                redis.stop()

    def _ensure_redis(self) -> RedisServer | None:
        url = urlparse(settings.REDIS_URL)
        address = (url.hostname or "127.0.0.1", url.port or 6379)
        if port_open(*address):
            self.stdout.write(f"Using Redis at {address[0]}:{address[1]}")
            return None
        if address[0] not in LOCAL_HOSTS:
            raise CommandError(f"Redis at {address[0]}:{address[1]} (REDIS_URL) is not reachable: start it or fix "
                               "REDIS_URL")
        self.stdout.write(f"No Redis at {address[0]}:{address[1]}: starting a local one under {state_dir()}/redis")
        return RedisServer(base_dir=state_dir() / "redis", port=address[1]).start()

    def _announce(self, host: str, port: int) -> None:
        username, password = ensure_first_admin()
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
        lines = [
            "",
            f"  DTS platform: {url}/",
            f"  Admin panel:  {url}/admin/",
            f"  API docs:     {url}/api/docs/",
        ]
        if password is not None:
            lines.append(f"  First admin:  user '{username}', password '{password}' "
                         f"(kept in {state_dir()}/admin_password; set DTS_ADMIN_PASSWORD to choose it)")
        else:
            lines.append(f"  Sign in as an existing superuser (e.g. '{username}'); "
                         "'manage.py changepassword' resets a password.")
        self.stdout.write(self.style.SUCCESS("\n".join(lines) + "\n"))

    def _run_processes(self, host: str, port: int, concurrency: int, no_worker: bool) -> None:
        python = sys.executable
        manager = Manager()
        env = dict(os.environ, PYTHONUNBUFFERED="1", REDIS_URL=settings.REDIS_URL,
                   DTS_STATE_DIR=str(state_dir()))
        manager.add_process("web", f"{python} -m daphne -b {host} -p {port} dts.asgi:application",
                            env=env, quiet=False)
        if not no_worker:
            manager.add_process(
                "worker", f"{python} -m celery -A dts worker -l INFO -O fair -c {concurrency} "
                          "-Q default,stream,snapshot,compare", env=env)
            manager.add_process(
                "beat", f"{python} -m celery -A dts beat -l INFO -s {state_dir() / 'celerybeat-schedule'}", env=env)
        manager.loop()
        if manager.returncode:
            raise SystemExit(manager.returncode)
