"""W4: compare MariaDB vs PostgreSQL, 1,000,000 rows x 10 columns, against reladiff in the same run.

    python -m bench.w4_compare [--rows 1000000] [--parallelism 2] [--chunk 125000] [--threads 2]

Starts its own MariaDB (1 GB buffer pool) and PostgreSQL, fills the W-table with MariaDB's sequence
engine, copies it to PostgreSQL with the project's own full load, then times, on the same tables:
  (a) identical tables; (b) 100 planted differences at the target (40 updates, 30 deletes, 30 inserts):
  - the project: connectors.compare in-process (checksums in both databases, drill-down);
  - reladiff (pip install -r requirements/bench.txt), cross-database hashdiff, --threads N;
  - the floor: SELECT COUNT(*) on both sides.
Checks that every planted key is found with nothing extra (by both tools), prints seconds, rows/s,
the ratios, and the project's CPU seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from typing import Any

from bench.w1_full_load import CREATE, FILL
from connectors.compare.options import CompareOptions
from connectors.compare.run import compare_tables
from connectors.config import ConnectionConfig
from connectors.pipeline.checkpoint import MemoryCheckpointStore
from connectors.pipeline.task import TaskRunner
from connectors.spec import TableMapping, TaskSpec
from connectors.types import TableId
from dts.localservers import MariaDBServer, PostgresServer

RELADIFF_ROW = re.compile(r'\["[+-]",\s*\["(\d+)"')
TABLE = TableMapping(TableId("bench", "w1"), TableId("bench", "w1"))


def prepare(mariadb: MariaDBServer, postgres: PostgresServer, rows: int) -> tuple[ConnectionConfig, ConnectionConfig]:
    cur = mariadb.connect().cursor()
    cur.execute("CREATE DATABASE bench")
    cur.execute("USE bench")
    cur.execute(CREATE)
    cur.execute(FILL.format(rows=rows))
    postgres.connect().execute("CREATE DATABASE target")
    source = ConnectionConfig("mysql", mariadb.host, mariadb.port, "root", "")
    target = ConnectionConfig("postgresql", postgres.host, postgres.port, "postgres", postgres.password,
                              database="target")
    spec = TaskSpec.from_json({"name": "w4-copy", "mode": "full", "tables": [TABLE.to_json()],
                               "source": source.to_dict(with_password=True),
                               "target": target.to_dict(with_password=True), "options": {"chunk_size": 50000}})
    assert TaskRunner(spec, MemoryCheckpointStore()).run() == "completed"
    with postgres.connect("target") as conn:
        conn.execute("VACUUM ANALYZE bench.w1")
        conn.execute("SELECT count(*), sum(length(note)) FROM bench.w1")  # warm both caches
    cur.execute("SELECT COUNT(*), SUM(LENGTH(note)) FROM w1")
    return source, target


def plant(postgres: PostgresServer, rows: int, seed: int = 4) -> dict[int, str]:
    """40 updates, 30 deletes, 30 inserts at the target, at random keys; key -> kind."""
    rng = random.Random(seed)
    keys = rng.sample(range(1, rows + 1), 70)
    planted: dict[int, str] = {}
    with postgres.connect("target") as conn:
        for key in keys[:40]:
            conn.execute("UPDATE bench.w1 SET b = b + 1 WHERE id = %s", [key])
            planted[key] = "different"
        for key in keys[40:]:
            conn.execute("DELETE FROM bench.w1 WHERE id = %s", [key])
            planted[key] = "missing"
        for i in range(30):
            key = rows + 1 + i * 997
            conn.execute("INSERT INTO bench.w1 (id, a, b, name) VALUES (%s, 1, 2, 'planted')", [key])
            planted[key] = "extra"
        conn.execute("ANALYZE bench.w1")
    return planted


def run_ours(source: ConnectionConfig, target: ConnectionConfig, chunk: int, parallelism: int
             ) -> tuple[float, float, dict[int, str]]:
    cpu, wall = time.process_time(), time.perf_counter()
    (report,) = compare_tables(source, target, [TABLE], CompareOptions(chunk_size=chunk), parallelism=parallelism)
    elapsed, cpu_used = time.perf_counter() - wall, time.process_time() - cpu
    return elapsed, cpu_used, {int(d.key[0]): d.kind for d in report.differences}


def run_reladiff(mariadb: MariaDBServer, postgres: PostgresServer, threads: int) -> tuple[float, set[int]]:
    if shutil.which("reladiff", path=str(sys.prefix) + "/bin") is None and shutil.which("reladiff") is None:
        sys.exit("reladiff is not installed: .venv/bin/pip install -r requirements/bench.txt")
    command = [str(sys.prefix) + "/bin/reladiff", f"mysql://root@{mariadb.host}:{mariadb.port}/bench", "w1",
               f"postgresql://postgres:{postgres.password}@{postgres.host}:{postgres.port}/target", "bench.w1",
               "-k", "id", "-c", "%", "--threads", str(threads), "--skip-sort-results", "--json"]
    wall = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            env={**os.environ, "COLUMNS": "10000"})
    elapsed = time.perf_counter() - wall
    if result.returncode != 0 or "ERROR" in result.stderr:  # it may log an error and still exit 0 (issue #81)
        sys.exit(f"reladiff failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    # Each difference is a JSON array ["+"|"-", [id, ...]]; rich may wrap the lines, so match, not split.
    return elapsed, {int(key) for key in RELADIFF_ROW.findall(result.stdout)}


def count_floor(mariadb: MariaDBServer, postgres: PostgresServer) -> tuple[float, float]:
    cur = mariadb.connect("bench").cursor()
    wall = time.perf_counter()
    cur.execute("SELECT COUNT(*) FROM w1")
    cur.fetchone()
    mysql_seconds = time.perf_counter() - wall
    with postgres.connect("target") as conn:
        wall = time.perf_counter()
        conn.execute("SELECT count(*) FROM bench.w1").fetchone()
        pg_seconds = time.perf_counter() - wall
    return mysql_seconds, pg_seconds


def report(title: str, rows: int, ours: tuple[float, float, Any], peer: float, floor: float) -> None:
    print(f"  {title}")
    print(f"    project : {ours[0]:6.2f} s  {rows / ours[0]:>10,.0f} rows/s  cpu {ours[1]:6.2f} s")
    print(f"    reladiff: {peer:6.2f} s  {rows / peer:>10,.0f} rows/s")
    print(f"    floor   : {floor:6.2f} s  (COUNT(*) on both, one after the other)")
    print(f"    ratio   : {peer / ours[0]:.2f}x reladiff's speed (goal >= 1.5); {ours[0] / floor:.1f}x the floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=125_000)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="reladiff's --threads")
    args = parser.parse_args()
    mariadb, postgres = MariaDBServer(extra_config={"innodb_buffer_pool_size": "1G"}), PostgresServer()
    with mariadb, postgres:
        source, target = prepare(mariadb, postgres, args.rows)
        floor = float(sum(count_floor(mariadb, postgres), 0.0))
        same = run_ours(source, target, args.chunk, args.parallelism)
        assert same[2] == {}, f"false differences on identical tables: {list(same[2].items())[:10]}"
        same_peer, peer_keys = run_reladiff(mariadb, postgres, args.threads)
        assert not peer_keys, f"reladiff reported {len(peer_keys)} differences on identical tables"
        planted = plant(postgres, args.rows)
        diff = run_ours(source, target, args.chunk, args.parallelism)
        diff_peer, peer_found = run_reladiff(mariadb, postgres, args.threads)
        floor_b = float(sum(count_floor(mariadb, postgres), 0.0))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    found = diff[2]
    print(f"W4 compare MariaDB vs PostgreSQL, {args.rows:,} rows x 10 columns (chunk {args.chunk:,}, "
          f"parallelism {args.parallelism}; reladiff --threads {args.threads})")
    report("(a) identical tables", args.rows, same, same_peer, floor)
    report("(b) 100 planted differences (40 updates, 30 deletes, 30 inserts)", args.rows, diff, diff_peer, floor_b)
    exact = found == planted
    print(f"    found   : project {sum(k in found for k in planted)}/100 planted keys, "
          f"{len(set(found) - set(planted))} extra, kinds {'all right' if exact else 'WRONG'}; "
          f"reladiff {len(peer_found & set(planted))}/100, {len(peer_found - set(planted))} extra")
    print(f"  project peak RSS {peak} MB")
    if not exact:
        sys.exit("the project did not find exactly the planted differences")


if __name__ == "__main__":
    main()
