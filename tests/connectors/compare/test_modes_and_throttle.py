"""Modes (count, sample) and throttling (rows per second, pause while the source is busy), for real."""

from __future__ import annotations

import threading
import time

import pytest

from connectors.compare.options import CompareOptions, CompareOptionsError
from connectors.compare.run import close_compare, compare_tables, open_compare
from dts.localservers import MariaDBServer
from tests.connectors.compare.conftest import Pair
from tests.connectors.compare.test_differences import MYSQL_DDL, PG_DDL, make_rows

pytestmark = [pytest.mark.timeout(300)]


def test_count_mode_compares_row_counts_only(mysql_to_pg: Pair) -> None:
    pair = mysql_to_pg
    mapping = pair.load("items", MYSQL_DDL, PG_DDL, make_rows(1000))
    t = pair.target.qualified("items")
    pair.target.sql(f"DELETE FROM {t} WHERE id IN (10, 20)")
    pair.target.sql(f"UPDATE {t} SET qty = -5 WHERE id = 30")  # invisible to a count
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping],
                               CompareOptions(mode="count", chunk_size=300))
    assert report.method == "count"
    assert (report.source_rows, report.target_rows) == (1000, 998)
    assert report.differences == []


def test_sample_mode_compares_a_share_of_the_chunks(mysql_to_pg: Pair) -> None:
    pair = mysql_to_pg
    mapping = pair.load("items", MYSQL_DDL, PG_DDL, make_rows(1000))
    t = pair.target.qualified("items")
    for i in range(50, 1000, 100):  # one changed row in each chunk of 100
        pair.target.sql(f"UPDATE {t} SET qty = -1 WHERE id = %s", [i])
    options = CompareOptions(mode="sample", sample_percent=30, chunk_size=100, leaf_rows=8, fanout=4)
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], options, seed=7)
    assert report.chunks_total == 3
    assert len(report.differences) == 3
    assert report.source_rows == 300
    (again,) = compare_tables(pair.source.config, pair.target.config, [mapping], options, seed=7)
    assert {d.key for d in again.differences} == {d.key for d in report.differences}  # the seed decides


def test_rate_limit_slows_the_source_reads(mysql_to_pg: Pair) -> None:
    pair = mysql_to_pg
    mapping = pair.load("items", MYSQL_DDL, PG_DDL, make_rows(3000))
    started = time.monotonic()
    compare_tables(pair.source.config, pair.target.config, [mapping], CompareOptions(chunk_size=500), parallelism=1)
    unlimited = time.monotonic() - started
    started = time.monotonic()
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping],
                               CompareOptions(chunk_size=500, rate_limit_rows=1000), parallelism=1)
    limited = time.monotonic() - started
    assert report.differences == []
    # 3,000 rows at 1,000 rows/s with one second of burst: at least two seconds.
    assert limited >= 1.9 > unlimited


def test_pauses_while_the_source_runs_too_many_threads(mysql_to_pg: Pair, mariadb: MariaDBServer) -> None:
    pair = mysql_to_pg
    mapping = pair.load("items", MYSQL_DDL, PG_DDL, make_rows(200))
    busy = [mariadb.connect() for _ in range(3)]
    threads = [threading.Thread(target=lambda c=c: c.cursor().execute("SELECT SLEEP(2)")) for c in busy]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    compare = open_compare(pair.source.config, pair.target.config, mapping,
                           CompareOptions(max_source_threads_running=2, load_pause_seconds=0.25))
    try:
        started = time.monotonic()
        (chunk,) = compare.plan()
        outcome = compare.compare_chunk(chunk)
        waited = time.monotonic() - started
    finally:
        close_compare(compare)
        for thread in threads:
            thread.join()
        for conn in busy:
            conn.close()
    assert outcome.differences == [] and outcome.source_rows == 200
    assert compare.throttle.paused_seconds >= 1.0 and waited >= 1.0


def test_bad_options_name_the_field() -> None:
    with pytest.raises(CompareOptionsError) as caught:
        CompareOptions.from_json({"mode": "fast", "chunk_size": 0, "speed": 1, "sample_percent": 150})
    paths = {path for path, _ in caught.value.problems}
    assert paths == {"mode", "options.chunk_size", "options.speed", "sample_percent"}
