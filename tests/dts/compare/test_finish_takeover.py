"""A worker killed while it finishes a run: its short finish lease expires, and the minute tick hands
the run's end to another worker (not an hour-long guard that leaves the run 'running')."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dts.compare import runner
from dts.compare.jobs import enqueue_run, start_scheduled
from dts.compare.models import CompareRun, CompareTask
from dts.datasources.models import Datasource
from dts.localservers import PostgresServer
from dts.sync.lease import redis_client
from dts.sync.models import Mode, Status, SyncTask
from tests.dts.compare.conftest import plant
from tests.dts.conftest import Personas
from tests.dts.sync.conftest import wait_for

pytestmark = [pytest.mark.timeout(300)]
TTL = 5.0


def test_a_worker_killed_while_finishing_a_run_hands_it_over_once_its_lease_expires(
        personas: Personas, mysql_source: Datasource, pg_target: Datasource, mysql_db: str, pg_db: str,
        orders: str, postgres: PostgresServer, worker_processes: Any, settings: Any) -> None:
    settings.DTS_LEASE_TTL_SECONDS = TTL  # the workers get it too
    # A streaming task without a checkpoint: the run's end re-checks the differences and waits for the
    # task to reach the source's head, so the finishing worker is still at it when it is killed.
    sync = SyncTask.objects.create(workspace=personas.workspace, name="live orders", source=mysql_source,
                                   target=pg_target, mode=Mode.INCREMENTAL, status=Status.RUNNING,
                                   tables=[f"{mysql_db}.orders"])
    task = CompareTask.objects.create(workspace=personas.workspace, name="finish", source=mysql_source,
                                      target=pg_target, sync_task=sync, tables=[f"{mysql_db}.orders"],
                                      options={"chunk_size": 500})
    plant(postgres, pg_db, mysql_db)
    worker = worker_processes()
    run = enqueue_run(task)
    client, key = redis_client(), runner.finish_lease_key(run.pk)
    wait_for(lambda: client.exists(key), 120, "a worker finishing the run", worker.log_tail)
    assert 0 < client.pttl(key) <= TTL * 1000  # a lease, not an hour-long guard
    run.refresh_from_db()
    assert run.status == "running" and run.chunks_done == run.chunks_total > 0, (run.status, worker.log_tail())
    time.sleep(TTL)  # longer than the lease: it is renewed while the finisher lives
    assert client.exists(key), worker.log_tail()
    assert not runner.recover_finish(run)  # a live finisher is left alone

    worker.kill()
    killed = time.monotonic()
    wait_for(lambda: not client.exists(key), 30, "the dead finisher's lease to expire")
    assert time.monotonic() - killed <= TTL + 5  # seconds, where the old guard held for an hour
    assert CompareRun.objects.get(pk=run.pk).status == "running"  # nobody finished it
    # The task has stopped meanwhile: nothing is in flight, so the next finisher does not wait.
    SyncTask.objects.filter(pk=sync.pk).update(status=Status.STOPPED)
    start_scheduled()  # the minute tick queues the run's end again...
    second = worker_processes()  # ...and another worker takes it
    wait_for(lambda: CompareRun.objects.get(pk=run.pk).is_finished, 120, "the run to be finished",
             second.log_tail)
    run.refresh_from_db()
    assert run.status == "completed", (run.error, second.log_tail())
    assert (run.missing, run.extra, run.different) == (1, 1, 2)
    assert not client.exists(key)  # released by the worker that finished it
