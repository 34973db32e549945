"""Fixtures for running sync tasks for real: MySQL source and PostgreSQL target datasources, and
Celery worker processes that a test can kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer, PostgresServer
from dts.state import BASE_DIR
from dts.sync.models import SyncTask
from tests.dts.conftest import Personas


def test_database_url() -> str:
    """The test database as a URL, for processes started by the tests."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class WorkerProcess:
    """`celery worker` as its own process group, pointed at the test database and Redis."""

    def __init__(self, log_path: str) -> None:
        env = dict(os.environ, DATABASE_URL=test_database_url(), REDIS_URL=settings.REDIS_URL,
                   DTS_LEASE_TTL_SECONDS=str(settings.DTS_LEASE_TTL_SECONDS), PYTHONUNBUFFERED="1")
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "dts", "worker", "-P", "threads", "-c", "4", "-l", "INFO",
                 "-Q", "default,stream,snapshot,compare", "--without-heartbeat", "--without-gossip",
                 "--without-mingle"],
                cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the whole worker: nothing gets to clean up, as in a crash."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self) -> str:
        with open(self.log_path, errors="replace") as handle:
            return "".join(handle.readlines()[-40:])


@pytest.fixture
def worker_processes(transactional_db: None, tmp_path: Any) -> Iterator[Callable[[], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        worker = WorkerProcess(str(tmp_path / f"worker{len(started)}.log"))
        started.append(worker)
        return worker

    yield start
    if started:
        # Runners see the stop within a second, so the workers' warm shutdown does not wait for them.
        SyncTask.objects.update(desired_state="stopped")
        time.sleep(1.5)
    for worker in started:
        worker.stop()


@pytest.fixture
def mysql_source(personas: Personas, mariadb: MariaDBServer, mysql_db: str) -> Datasource:
    return Datasource.objects.create(workspace=personas.workspace, name="mysql-src", engine="mysql",
                                     host=mariadb.host, port=mariadb.port, user="root", password="")


@pytest.fixture
def pg_target(personas: Personas, postgres: PostgresServer, pg_db: str) -> Datasource:
    return Datasource.objects.create(workspace=personas.workspace, name="pg-dst", engine="postgresql",
                                     host=postgres.host, port=postgres.port, user="postgres",
                                     password="postgres", database=pg_db)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, on_timeout: Callable[[], str] = str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{on_timeout()}")
