"""W2: binlog parse speed, MySQLSource.changes() against a bare BinLogStreamReader loop.

    python -m bench.w2_binlog_parse [--rows 1000000]      (quick: --rows 100000)

Starts a throwaway MariaDB (dts.localservers, ROW binlog, full row metadata), creates the W-table
(bigint PK, 2 int, 2 decimal(12,2), 2 varchar(32), datetime, date, varchar(64), as in
../shared/design/performance.md) and writes N rows as N single-row transactions (a stored
procedure loop in one autocommit session). Then, from the same start position, it times
  ours:  MySQLSource.changes() yielding a ChangeEvent per row (and a COMMIT per transaction),
         every value of every after-image touched;
  peer:  a bare pymysqlreplication BinLogStreamReader loop (default options, row events only),
         every value of every row image touched;
and prints rows/s for both, the ratio (goal >= 0.85), CPU seconds and the peak RSS of this process.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import dataclass

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from connectors.config import ConnectionConfig
from connectors.events import COMMIT, HEARTBEAT, INSERT
from connectors.mysql.connection import quote_ident
from connectors.mysql.position import BinlogPosition
from connectors.mysql.source import MySQLSource
from connectors.types import TableId
from dts.localservers import MariaDBServer

DATABASE = "w2"
TABLE = TableId(DATABASE, "w")
CREATE = """CREATE TABLE w (id bigint PRIMARY KEY, a int, b int, price decimal(12,2), cost decimal(12,2),
    name varchar(32), city varchar(32), created datetime, day date, note varchar(64))"""
FILL = """CREATE PROCEDURE fill(n INT) BEGIN
    DECLARE k INT DEFAULT 0;
    WHILE k < n DO
        INSERT INTO w VALUES (k, k * 7 % 1000003, k % 1000, (k % 100000) / 100, (k * 13 % 100000) / 100,
            CONCAT('name-', k), CONCAT('city-', k % 997), '2020-01-01' + INTERVAL k SECOND,
            '2020-01-01' + INTERVAL (k % 3650) DAY, CONCAT('note ', k, ' lorem ipsum dolor sit amet'));
        SET k = k + 1;
    END WHILE;
END"""


@dataclass
class Run:
    rows: int
    seconds: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(server: MariaDBServer, start: BinlogPosition, rows: int) -> Run:
    source = MySQLSource(ConnectionConfig("mysql", server.host, server.port, server.user, server.password,
                                          options={"server_id": 4242}))
    seen = commits = 0
    wall, cpu = time.perf_counter(), time.process_time()
    stream = source.changes(start, {TABLE})
    for event in stream:
        if event.op == INSERT:
            for _value in event.after or ():
                pass
            seen += 1
        elif event.op == COMMIT:
            commits += 1
            if seen >= rows:
                break
        elif event.op == HEARTBEAT and seen >= rows:
            break
    result = Run(seen, time.perf_counter() - wall, time.process_time() - cpu)
    stream.close()  # type: ignore[attr-defined]
    source.close()
    if seen != rows or commits < rows:
        sys.exit(f"ours saw {seen} rows and {commits} commits, expected {rows}")
    return result


def run_peer(server: MariaDBServer, start: BinlogPosition, rows: int) -> Run:
    seen = 0
    wall, cpu = time.perf_counter(), time.process_time()
    reader = BinLogStreamReader(
        connection_settings={"host": server.host, "port": server.port, "user": server.user,
                             "passwd": server.password},
        server_id=4343, log_file=start.file, log_pos=start.pos, resume_stream=True, blocking=False,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent])
    for event in reader:
        for row in event.rows:
            for _value in row["values"].values():
                pass
            seen += 1
    reader.close()
    result = Run(seen, time.perf_counter() - wall, time.process_time() - cpu)
    if seen != rows:
        sys.exit(f"the peer saw {seen} rows, expected {rows}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="row events (single-row transactions)")
    args = parser.parse_args()
    server = MariaDBServer(extra_config={"innodb_buffer_pool_size": "1G", "max_binlog_size": "1G"})
    server.start()
    try:
        conn = server.connect()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {quote_ident(DATABASE)}")
            cur.execute(f"USE {quote_ident(DATABASE)}")
            cur.execute(CREATE)
            cur.execute(FILL)
        probe = MySQLSource(ConnectionConfig("mysql", server.host, server.port, server.user, server.password))
        start = probe.current_position()
        wall = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute("CALL fill(%s)", (args.rows,))
        print(f"wrote {args.rows:,} single-row transactions in {time.perf_counter() - wall:.1f}s "
              f"(binlog {start.file}:{start.pos} .. {probe.current_position().pos:,})")
        probe.close()
        conn.close()

        ours = run_ours(server, start, args.rows)
        ours_rss = peak_rss_mb()
        peer = run_peer(server, start, args.rows)
        print(f"ours  MySQLSource.changes():      {ours.rate:10,.0f} rows/s  {ours.seconds:7.2f}s  "
              f"cpu {ours.cpu:6.2f}s  peak RSS {ours_rss:.0f} MB")
        print(f"peer  bare BinLogStreamReader:    {peer.rate:10,.0f} rows/s  {peer.seconds:7.2f}s  "
              f"cpu {peer.cpu:6.2f}s  peak RSS {peak_rss_mb():.0f} MB (process, after both runs)")
        print(f"ratio ours/peer: {ours.rate / peer.rate:.2f} (goal >= 0.85)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
