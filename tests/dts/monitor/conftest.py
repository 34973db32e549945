"""Monitor fixtures: a real local HTTP receiver for webhooks, a MariaDB source, tasks and their metrics,
and Celery worker processes on chosen queues."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
from django.conf import settings

from dts.datasources.models import Datasource
from dts.localservers import MariaDBServer
from dts.monitor import push
from dts.state import BASE_DIR
from dts.sync.lease import redis_client
from dts.sync.models import Status, SyncTask
from dts.sync.observer import metrics_key
from tests.dts.conftest import Personas
from tests.dts.sync.conftest import WorkerProcess, test_database_url


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that records every request and answers a chosen status and body."""

    status: int = 200
    answer: bytes = b'{"ok": true}'
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.requests) >= count, f"expected {count} request(s), got {len(self.requests)}"
        return self.requests


def _start(receiver: Receiver) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            parts = urllib.parse.urlsplit(self.path)
            receiver.requests.append(Received("POST", parts.path, urllib.parse.parse_qs(parts.query),
                                              {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(receiver.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(receiver.answer)))
            self.end_headers()
            self.wfile.write(receiver.answer)

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep the test output quiet; the requests are recorded above

    receiver.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(status: int = 200, answer: bytes = b'{"ok": true}') -> Receiver:
        receiver = Receiver(status=status, answer=answer)
        _start(receiver)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        assert receiver.server is not None
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture
def receiver(receivers: Callable[..., Receiver]) -> Receiver:
    return receivers()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """The personas' passwords are hashed at every test's setup; these tests are not about passwords."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_monitor_state(redis_server: Any) -> Iterator[redis.Redis]:
    """Database ids repeat between tests: forget every key the monitor and runners keep per id."""
    client = redis_client()

    def clean() -> None:
        for pattern in ("dts:monitor:*", "dts:metrics:*", "dts:lease:*"):
            for key in client.scan_iter(pattern):
                client.delete(key)
        push._last_push.clear()

    clean()
    yield client
    clean()


@pytest.fixture
def client_redis(fresh_monitor_state: redis.Redis) -> redis.Redis:
    return fresh_monitor_state


@pytest.fixture
def mariadb_source(personas: Personas, mariadb: MariaDBServer, mysql_db: str) -> Datasource:
    return Datasource.objects.create(workspace=personas.workspace, name="mariadb-src", engine="mysql",
                                     host=mariadb.host, port=mariadb.port, user="root", password="",
                                     database=mysql_db)


@pytest.fixture
def target(personas: Personas) -> Datasource:
    # Never connected to by the monitor: it only reads the source.
    return Datasource.objects.create(workspace=personas.workspace, name="pg-dst", engine="postgresql",
                                     host="127.0.0.1", port=5432, user="postgres", database="dw")


def make_task(personas: Personas, source: Datasource, target: Datasource, name: str = "orders-sync",
              status: str = Status.RUNNING) -> SyncTask:
    return SyncTask.objects.create(workspace=personas.workspace, name=name, source=source, target=target,
                                   tables=["shop.orders"], status=status, desired_state="running")


@pytest.fixture
def running_task(personas: Personas, mariadb_source: Datasource, target: Datasource) -> SyncTask:
    return make_task(personas, mariadb_source, target)


@pytest.fixture
def head(mariadb: MariaDBServer) -> Callable[[], dict[str, Any]]:
    def read() -> dict[str, Any]:
        conn = mariadb.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute("SHOW MASTER STATUS")
                file, pos = cursor.fetchone()[:2]
        finally:
            conn.close()
        return {"file": str(file), "pos": int(pos)}

    return read


@pytest.fixture
def write_rows(mariadb: MariaDBServer, mysql_db: str) -> Callable[[int], None]:
    """Commit rows on the source so its binlog head moves."""

    def write(count: int = 3) -> None:
        conn = mariadb.connect(mysql_db)
        try:
            with conn.cursor() as cursor:
                cursor.execute("CREATE TABLE IF NOT EXISTS orders (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT)")
                for number in range(count):
                    cursor.execute("INSERT INTO orders (note) VALUES (%s)", [f"order {number}"])
        finally:
            conn.close()

    return write


def set_metrics(client: redis.Redis, task: SyncTask, *, position: dict[str, Any] | None,
                last_commit_time: float | None, events: int = 100, rows: int = 100) -> None:
    """Write the runner's metrics hash as dts.sync.observer does."""
    fields: dict[str, Any] = {"events_applied": events, "rows_applied": rows, "updated_at": time.time()}
    if position is not None:
        fields["position"] = json.dumps(position)
    if last_commit_time is not None:
        fields["last_commit_time"] = last_commit_time
    client.hset(metrics_key(task.pk), mapping=fields)


class QueueWorker(WorkerProcess):
    """`celery worker` on chosen queues, e.g. one that runs tasks (and may be killed) and one that
    delivers alerts (and stays up)."""

    def __init__(self, log_path: str, queues: list[str]) -> None:
        env = dict(os.environ, DATABASE_URL=test_database_url(), REDIS_URL=settings.REDIS_URL,
                   DTS_LEASE_TTL_SECONDS=str(settings.DTS_LEASE_TTL_SECONDS), PYTHONUNBUFFERED="1")
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "dts", "worker", "-P", "threads", "-c", "4", "-l", "INFO",
                 "-Q", ",".join(queues), "--without-heartbeat", "--without-gossip", "--without-mingle"],
                cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def workers(transactional_db: None, tmp_path: Any) -> Iterator[Callable[..., QueueWorker]]:
    """Start worker processes (all queues unless told); all are stopped at the end."""
    started: list[QueueWorker] = []

    def start(queues: tuple[str, ...] = ("default", "stream", "snapshot", "compare")) -> QueueWorker:
        worker = QueueWorker(str(tmp_path / f"worker{len(started)}.log"), list(queues))
        started.append(worker)
        return worker

    yield start
    # Runners stop within a second when asked; then the workers shut down at once instead of waiting for them.
    SyncTask.objects.update(desired_state="stopped")
    time.sleep(1.5)
    for worker in started:
        worker.stop()
