"""W1: full load MariaDB → PostgreSQL, end to end, against pgloader on the same data in the same run.

    python -m bench.w1_full_load [--rows 1000000] [--parallelism 2] [--chunk 50000]

Starts its own MariaDB (1 GB buffer pool, ROW binlog) and PostgreSQL (wal_level=logical,
fsync=off), fills the W-table (bigint PK, 2 int, 2 decimal(12,2), 2 varchar(32), datetime, date,
varchar(64)) with MariaDB's sequence engine, warms the buffer pool, then times:
  - the project: a 'full' task (create, chunked parallel load, keys, verify count) run in-process;
  - pgloader with its defaults into another database.
Both counts are verified. Prints rows/s, the ratio, CPU seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time

from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.pipeline.task import TaskRunner
from connectors.spec import TaskSpec
from dts.localservers import MariaDBServer, PostgresServer

CREATE = """CREATE TABLE w1 (id BIGINT PRIMARY KEY, a INT, b INT, price DECIMAL(12,2), cost DECIMAL(12,2),
 name VARCHAR(32), city VARCHAR(32), created DATETIME, day DATE, note VARCHAR(64))"""
FILL = """INSERT INTO w1 SELECT seq, seq * 7 % 1000003, seq % 1000, (seq % 100000) / 100, (seq * 13 % 100000) / 100,
 CONCAT('name-', seq), CONCAT('city-', seq % 997), '2020-01-01' + INTERVAL seq SECOND,
 '2020-01-01' + INTERVAL (seq % 3650) DAY, CONCAT('note ', seq, ' lorem ipsum dolor sit amet')
 FROM seq_1_to_{rows}"""


def fill_source(mariadb: MariaDBServer, rows: int) -> None:
    cur = mariadb.connect().cursor()
    cur.execute("CREATE DATABASE bench")
    cur.execute("USE bench")
    cur.execute(CREATE)
    cur.execute(FILL.format(rows=rows))
    cur.execute("SELECT COUNT(*), SUM(LENGTH(note)) FROM w1")  # warm the buffer pool
    assert cur.fetchone()[0] == rows


def run_project(mariadb: MariaDBServer, postgres: PostgresServer, rows: int, parallelism: int,
                chunk: int) -> tuple[float, float, int]:
    postgres.connect().execute("CREATE DATABASE ours")
    spec = TaskSpec.from_json({
        "name": "w1", "mode": "full", "tables": [{"source": "bench.w1", "target": "bench.w1"}],
        "source": {"engine": "mysql", "host": mariadb.host, "port": mariadb.port, "user": "root", "password": ""},
        "target": {"engine": "postgresql", "host": postgres.host, "port": postgres.port, "user": "postgres",
                   "password": postgres.password, "database": "ours"},
        "options": {"parallelism": parallelism, "chunk_size": chunk}})
    cpu, wall = time.process_time(), time.perf_counter()
    outcome = TaskRunner(spec, MemoryCheckpointStore()).run()
    with postgres.connect("ours") as conn:
        count = conn.execute("SELECT count(*) FROM bench.w1").fetchone()[0]
    elapsed, cpu_used = time.perf_counter() - wall, time.process_time() - cpu
    assert outcome == "completed" and count == rows, (outcome, count)
    return elapsed, cpu_used, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def run_pgloader(mariadb: MariaDBServer, postgres: PostgresServer, rows: int) -> tuple[float, float, int]:
    if shutil.which("pgloader") is None:
        sys.exit("pgloader is not installed: apt-get install -y pgloader")
    postgres.connect().execute("CREATE DATABASE peer")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    result = subprocess.run(
        ["pgloader", f"mysql://root@{mariadb.host}:{mariadb.port}/bench",
         f"postgresql://postgres:{postgres.password}@{postgres.host}:{postgres.port}/peer"],
        capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"pgloader failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    with postgres.connect("peer") as conn:
        count = conn.execute("SELECT count(*) FROM bench.w1").fetchone()[0]
    assert count == rows, f"pgloader loaded {count} of {rows} rows"
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, after.ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=50_000)
    args = parser.parse_args()
    with MariaDBServer(extra_config={"innodb_buffer_pool_size": "1G"}) as mariadb, PostgresServer() as postgres:
        fill_source(mariadb, args.rows)
        ours = run_project(mariadb, postgres, args.rows, args.parallelism, args.chunk)
        peer = run_pgloader(mariadb, postgres, args.rows)
    ours_rate, peer_rate = args.rows / ours[0], args.rows / peer[0]
    print(f"W1 full load MariaDB -> PostgreSQL, {args.rows:,} rows x 10 columns, counts verified")
    print(f"  project : {ours[0]:6.2f} s  {ours_rate:>9,.0f} rows/s  cpu {ours[1]:6.2f} s  peak RSS {ours[2]} MB")
    print(f"  pgloader: {peer[0]:6.2f} s  {peer_rate:>9,.0f} rows/s  cpu {peer[1]:6.2f} s  peak RSS {peer[2]} MB")
    print(f"  ratio   : {ours_rate / peer_rate:.2f}x pgloader's rows/s (goal >= 1.0)")


if __name__ == "__main__":
    main()
