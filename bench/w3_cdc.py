"""W3: change capture into PostgreSQL: catch-up throughput, then lag at a steady write rate.

    python -m bench.w3_cdc [--changes 1000000] [--steady-rate 2000] [--steady-seconds 30]

Four W-tables on a throwaway MariaDB are copied to PostgreSQL by a full+incremental task run
in-process. The task is stopped, --changes row changes (inserts, updates and deletes spread over
the four tables, many rows per statement, as a busy source produces) are queued in the binlog,
and the task is resumed: catch-up rows/s = changes / time until the task's checkpoint reaches
the source head, and the target is verified equal to the source by count and checksum.
Then a writer commits single-row-ish transactions at --steady-rate rows/s for --steady-seconds
while a probe reads the newest `created` (microsecond commit time) at the target every 50 ms:
lag = now - newest applied; p50/p99/max are printed (goal p99 ≤ 1 s). Goals: catch-up ≥ 10,000
rows/s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import threading
import time

from connectors.mysql.position import BinlogPosition
from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.pipeline.task import TaskRunner
from connectors.spec import TaskSpec
from dts.localservers import MariaDBServer, PostgresServer

TABLES = ("w3a", "w3b", "w3c", "w3d")
CREATE = """CREATE TABLE {t} (id BIGINT PRIMARY KEY, a INT, b INT, price DECIMAL(12,2), cost DECIMAL(12,2),
 name VARCHAR(32), city VARCHAR(32), created DATETIME(6), day DATE, note VARCHAR(64))"""
INSERT = """INSERT INTO {t} SELECT seq, seq % 1000, seq % 7, (seq % 100000) / 100, (seq * 13 % 100000) / 100,
 CONCAT('name-', seq), CONCAT('city-', seq % 997), NOW(6), '2020-01-01' + INTERVAL (seq % 3650) DAY,
 CONCAT('note ', seq) FROM seq_{low}_to_{high}"""


def head(mariadb: MariaDBServer) -> BinlogPosition:
    cur = mariadb.connect().cursor()
    cur.execute("SHOW MASTER STATUS")
    file, pos = cur.fetchone()[:2]
    return BinlogPosition(file, pos)


def checksum(mariadb: MariaDBServer, postgres: PostgresServer, table: str) -> tuple[tuple[int, int], tuple[int, int]]:
    cur = mariadb.connect("bench").cursor()
    cur.execute(f"SELECT COUNT(*), COALESCE(SUM(id * 31 + a), 0) FROM {table}")
    source = tuple(int(v) for v in cur.fetchone())
    with postgres.connect("target") as conn:
        row = conn.execute(f"SELECT count(*), COALESCE(sum(id * 31 + a), 0) FROM bench.{table}").fetchone()
    return source, tuple(int(v) for v in row)  # type: ignore[return-value]


def queue_changes(mariadb: MariaDBServer, changes: int, start_id: int) -> int:
    """Inserts 50%, updates 35%, deletes 15% of `changes` row events, 1,000 rows per statement."""
    cur = mariadb.connect("bench").cursor()
    done, next_id, step = 0, start_id, 1000
    rounds = 0
    while done < changes:
        table = TABLES[rounds % 4]
        kind = rounds % 20
        if kind < 10:
            cur.execute(INSERT.format(t=table, low=next_id, high=next_id + step - 1))
            next_id += step
        elif kind < 17:
            low = (rounds * 7919) % max(1, next_id - step)
            cur.execute(f"UPDATE {table} SET a = a + 1, note = CONCAT('u', id) WHERE id BETWEEN %s AND %s",
                        (low, low + step - 1))
        else:
            low = (rounds * 104729) % max(1, next_id - step)
            cur.execute(f"DELETE FROM {table} WHERE id BETWEEN %s AND %s", (low, low + step - 1))
        done += max(cur.rowcount, 0)
        rounds += 1
    return next_id


class TaskThread:
    def __init__(self, spec: TaskSpec, store: MemoryCheckpointStore) -> None:
        self.stop = threading.Event()
        self.runner = TaskRunner(spec, store, stop=self.stop)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.runner.run()
        except BaseException as exc:  # noqa: BLE001  (reported by the bench)
            self.error = exc

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        if self.error:
            raise self.error


def wait_caught_up(store: MemoryCheckpointStore, target: BinlogPosition, timeout: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        state = store.state or {}
        position = state.get("position")
        if state.get("phase") == "stream" and position and BinlogPosition(position["file"], position["pos"]) >= target:
            return time.perf_counter() - start
        time.sleep(0.02)
    raise TimeoutError(f"not caught up within {timeout:.0f}s (at {store.state and store.state.get('position')})")


def steady(mariadb: MariaDBServer, postgres: PostgresServer, rate: int, seconds: float, start_id: int) -> list[float]:
    """Write at `rate` rows/s in 10-row transactions; sample the target's lag every 50 ms."""
    stop = threading.Event()
    lags: list[float] = []

    def write() -> None:
        conn = mariadb.connect("bench")
        cur = conn.cursor()
        next_id, interval = start_id, 10 / rate
        deadline = time.perf_counter()
        while not stop.is_set():
            cur.execute(INSERT.format(t="w3a", low=next_id, high=next_id + 9))
            next_id += 10
            deadline += interval
            pause = deadline - time.perf_counter()
            if pause > 0:
                time.sleep(pause)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    time.sleep(1)
    with postgres.connect("target") as conn:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            newest = conn.execute("SELECT extract(epoch FROM max(created)) FROM bench.w3a").fetchone()[0]
            lags.append(max(0.0, time.time() - float(newest)))
            time.sleep(0.05)
    stop.set()
    writer.join()
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--initial", type=int, default=50_000, help="rows per table before the task starts")
    parser.add_argument("--steady-rate", type=int, default=2000)
    parser.add_argument("--steady-seconds", type=float, default=30)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    with MariaDBServer(extra_config={"innodb_buffer_pool_size": "1G", "default-time-zone": "+00:00"}) as mariadb, \
            PostgresServer() as postgres:
        cur = mariadb.connect().cursor()
        cur.execute("CREATE DATABASE bench")
        cur.execute("USE bench")
        for table in TABLES:
            cur.execute(CREATE.format(t=table))
            cur.execute(INSERT.format(t=table, low=1, high=args.initial))
        postgres.connect().execute("CREATE DATABASE target")
        spec = TaskSpec.from_json({
            "name": "w3", "mode": "full+incremental", "tables": [f"bench.{t}" for t in TABLES],
            "source": {"engine": "mysql", "host": mariadb.host, "port": mariadb.port, "user": "root"},
            "target": {"engine": "postgresql", "host": postgres.host, "port": postgres.port, "user": "postgres",
                       "password": postgres.password, "database": "target"},
            "options": {"parallelism": args.parallelism, "batch_size": args.batch, "server_id": 4242}})
        store = MemoryCheckpointStore()
        task = TaskThread(spec, store)
        wait_caught_up(store, head(mariadb), 300)
        task.halt()

        next_id = queue_changes(mariadb, args.changes, args.initial + 1)
        target = head(mariadb)
        cpu = time.process_time()
        task = TaskThread(spec, store)
        catch_up = wait_caught_up(store, target, 1800)
        cpu = time.process_time() - cpu
        for table in TABLES:
            source_sum, target_sum = checksum(mariadb, postgres, table)
            assert source_sum == target_sum, f"{table}: source {source_sum} != target {target_sum}"
        lags = steady(mariadb, postgres, args.steady_rate, args.steady_seconds, next_id + 10_000_000)
        task.halt()
    rate = args.changes / catch_up
    lags.sort()
    p99 = lags[int(len(lags) * 0.99) - 1]
    print(f"W3 CDC MariaDB binlog -> PostgreSQL, 4 tables, parallelism {args.parallelism}, batch {args.batch}")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"  catch-up : {args.changes:,} queued row changes in {catch_up:.2f} s = {rate:,.0f} rows/s "
          f"(goal >= 10,000), cpu {cpu:.2f} s, peak RSS {peak_rss} MB; target verified by count and checksum")
    print(f"  steady   : {args.steady_rate} rows/s for {args.steady_seconds:.0f} s, lag p50 "
          f"{statistics.median(lags):.3f} s, p99 {p99:.3f} s, max {lags[-1]:.3f} s (goal p99 <= 1 s)")


if __name__ == "__main__":
    main()
