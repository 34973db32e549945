"""A compare attached to a live streaming task: no false differences under steady writes (in-flight
changes are re-checked once the task's checkpoint has passed the source head), and a real one is found."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable

import pytest

from connectors.compare.options import CompareOptions
from connectors.compare.run import compare_tables
from connectors.spec import TaskSpec
from dts.localservers import MariaDBServer
from tests.connectors.compare.conftest import Pair, insert_rows
from tests.connectors.compare.test_differences import MYSQL_DDL, make_rows
from tests.connectors.pipeline.conftest import Run, binlog_head

pytestmark = [pytest.mark.timeout(300)]
_server_ids = itertools.count(760_000)


class Writer:
    """Steady inserts, updates and deletes at the source, on ids above 100, until stopped."""

    def __init__(self, mariadb: MariaDBServer, database: str) -> None:
        self.conn = mariadb.connect(database)
        self.stop = threading.Event()
        self.rng = random.Random(3)
        self.next_id = 10_000
        self.statements = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        cur = self.conn.cursor()
        while not self.stop.is_set():
            roll, target = self.rng.random(), self.rng.randint(101, 2000)
            if roll < 0.5:
                cur.execute("UPDATE items SET qty = qty + 1, note = %s WHERE id = %s", [f"w{self.statements}", target])
            elif roll < 0.8:
                self.next_id += 1
                cur.execute("INSERT INTO items (id, qty, price, name) VALUES (%s, 1, 2.50, 'live')", [self.next_id])
            else:
                cur.execute("DELETE FROM items WHERE id = %s", [target])
            self.statements += 1
            time.sleep(0.005)


def settle_for(run: Run, mariadb: MariaDBServer) -> Callable[[], None]:
    def settle() -> None:
        head = binlog_head(mariadb)
        run.wait(lambda: (p := run.position()) is not None and p >= head, "the task to pass the source head")
    return settle


def test_live_task_has_no_false_differences_and_a_planted_one_is_found(mysql_to_pg: Pair,
                                                                       mariadb: MariaDBServer) -> None:
    pair = mysql_to_pg
    pair.source.sql(MYSQL_DDL.format(table=pair.source.qualified("items")))
    insert_rows(pair.source, "items", make_rows(2000))
    spec = TaskSpec.from_json({
        "name": "live", "source": pair.source.config.to_dict(with_password=True),
        "target": pair.target.config.to_dict(with_password=True), "mode": "full+incremental",
        "tables": [{"source": str(pair.source.table("items")), "target": str(pair.target.table("items"))}],
        "options": {"server_id": next(_server_ids), "heartbeat_seconds": 0.3, "flush_interval": 0.2}})
    run = Run(spec).start()
    writer = Writer(mariadb, pair.source.database)
    try:
        run.wait_streaming()
        writer.thread.start()
        time.sleep(1.0)
        settle = settle_for(run, mariadb)
        options = CompareOptions(chunk_size=400, leaf_rows=16, fanout=8)
        mapping = pair.mapping("items")
        (live,) = compare_tables(pair.source.config, pair.target.config, [mapping], options, settle=settle)
        assert writer.statements > 50  # the source really was changing during the compare
        assert live.differences == []

        # A difference the stream will never fix: the writer leaves ids up to 100 alone.
        pair.target.sql(f"UPDATE {pair.target.qualified('items')} SET qty = 999 WHERE id = 7")
        (found,) = compare_tables(pair.source.config, pair.target.config, [mapping], options, settle=settle)
        assert [(d.key, d.kind, d.columns) for d in found.differences] == [((7,), "different", ("qty",))]
    finally:
        writer.stop.set()
        if writer.thread.is_alive():
            writer.thread.join(timeout=10)
        writer.conn.close()
        run.stop_event.set()
        run.thread.join(timeout=30)
