"""W1, sink side only: load generated W-rows into PostgreSQL through PostgreSQLSink.load_chunk.

    python -m bench.w1_sink_load [--rows N] [--chunk 50000] [--defer-key] [--no-baseline]

Rows (bigint PK, 2 int, 2 decimal(12,2), 2 varchar(32), datetime, date, varchar(64), as in
../shared/design/performance.md) are generated before each chunk is timed, so the figures are the
sink's: prepare + every load_chunk (each deleting its key range, then binary COPY) + finish_table,
then the row count is verified. The peer run here is a bare psycopg binary COPY of the same rows
into a table with the same primary key: the floor any Python sink can reach on this machine. The
end-to-end W1 against pgloader (MariaDB -> PostgreSQL) is a separate benchmark.

Starts a throwaway PostgreSQL (dts.localservers) unless --pg-port is given.
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from connectors.base import Chunk
from connectors.config import ConnectionConfig
from connectors.postgresql.sink import PostgreSQLSink
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema

TABLE = TableId("public", "w1")
SCHEMA = TableSchema(TableId("bench", "w1"), (
    ColumnSchema("id", CanonicalType(Kind.INT, bits=64), nullable=False),
    ColumnSchema("a", CanonicalType(Kind.INT, bits=32)),
    ColumnSchema("b", CanonicalType(Kind.INT, bits=32)),
    ColumnSchema("price", CanonicalType(Kind.DECIMAL, precision=12, scale=2)),
    ColumnSchema("cost", CanonicalType(Kind.DECIMAL, precision=12, scale=2)),
    ColumnSchema("name", CanonicalType(Kind.STRING, length=32)),
    ColumnSchema("city", CanonicalType(Kind.STRING, length=32)),
    ColumnSchema("created", CanonicalType(Kind.DATETIME)),
    ColumnSchema("day", CanonicalType(Kind.DATE)),
    ColumnSchema("note", CanonicalType(Kind.STRING, length=64)),
), primary_key=("id",))
COPY_TYPES = ["int8", "int4", "int4", "numeric", "numeric", "varchar", "varchar", "timestamp", "date", "varchar"]

_BASE = datetime.datetime(2020, 1, 1)
_DAY = datetime.date(2020, 1, 1)
_CENTS = [decimal.Decimal(i).scaleb(-2) for i in range(100_000)]


def generate(low: int, high: int) -> list[tuple[Any, ...]]:
    one_second, one_day = datetime.timedelta(seconds=1), datetime.timedelta(days=1)
    return [(i, i * 7 % 1_000_003, i % 1000, _CENTS[i % 100_000], _CENTS[i * 13 % 100_000], f"name-{i}",
             f"city-{i % 997}", _BASE + one_second * i, _DAY + one_day * (i % 3650),
             f"note {i} lorem ipsum dolor sit amet") for i in range(low, high)]


@dataclass
class Result:
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0


def backend_cpu(pid: int) -> float:
    """utime + stime of a PostgreSQL backend (same machine), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def measured(result: Result, backend: int) -> Iterator[None]:
    wall, cpu, server = time.perf_counter(), time.process_time(), backend_cpu(backend)
    yield
    result.seconds += time.perf_counter() - wall
    result.client_cpu += time.process_time() - cpu
    result.server_cpu += backend_cpu(backend) - server


def chunks(rows: int, size: int) -> Iterator[tuple[int, int, int]]:
    for index, low in enumerate(range(0, rows, size)):
        yield index, low, min(low + size, rows)


def run_sink(config: ConnectionConfig, rows: int, size: int, defer_key: bool) -> Result:
    result = Result()
    sink = PostgreSQLSink(config)
    backend = sink.connection().info.backend_pid
    with measured(result, backend):
        sink.prepare(SCHEMA, TABLE, if_exists="drop", defer_indexes=True)
        if defer_key:
            sink.connection().execute("ALTER TABLE public.w1 DROP CONSTRAINT w1_pkey")
    for index, low, high in chunks(rows, size):
        data = generate(low, high)
        chunk = Chunk(SCHEMA.table, index, (low,) if low else None, (high,) if high < rows else None)
        with measured(result, backend):
            written = sink.load_chunk(SCHEMA, TABLE, chunk, data)
        assert written == len(data), (written, len(data))
    with measured(result, backend):
        if defer_key:
            sink.connection().execute("ALTER TABLE public.w1 ADD PRIMARY KEY (id)")
        sink.finish_table(SCHEMA, TABLE)
    count = sink.connection().execute("SELECT count(*) FROM public.w1").fetchone()
    assert count is not None and count[0] == rows, f"count {count} != {rows}"
    sink.close()
    return result


def run_baseline(config: ConnectionConfig, rows: int, size: int) -> Result:
    result = Result()
    with psycopg.connect(host=config.host, port=config.port, user=config.user, password=config.password,
                         dbname=config.database, autocommit=True) as conn:
        backend = conn.info.backend_pid
        with measured(result, backend):
            conn.execute("DROP TABLE IF EXISTS public.w1_peer")
            conn.execute("CREATE TABLE public.w1_peer (id bigint PRIMARY KEY, a integer, b integer, "
                         "price numeric(12,2), cost numeric(12,2), name varchar(32), city varchar(32), "
                         "created timestamp(0), day date, note varchar(64))")
        for _index, low, high in chunks(rows, size):
            data = generate(low, high)
            with measured(result, backend), conn.transaction(), conn.cursor() as cursor:
                with cursor.copy("COPY public.w1_peer FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(COPY_TYPES)
                    for row in data:
                        copy.write_row(row)
        with measured(result, backend):
            conn.execute("ANALYZE public.w1_peer")
        conn.execute("DROP TABLE public.w1_peer")
    return result


def checkpoint(config: ConnectionConfig) -> None:
    """Flush dirty buffers before a run; skipped (with a note) without the privilege."""
    with psycopg.connect(host=config.host, port=config.port, user=config.user, password=config.password,
                         dbname=config.database, autocommit=True) as conn:
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            print("(no CHECKPOINT: not a superuser; runs may pay for each other's WAL)")


def report(name: str, rows: int, result: Result) -> None:
    print(f"{name:<28} {rows / result.seconds:>10,.0f} rows/s  {result.seconds:6.2f} s  "
          f"client CPU {result.client_cpu:5.2f} s  PostgreSQL backend CPU {result.server_cpu:5.2f} s")


def with_server(port: int | None, body: Callable[[ConnectionConfig], None], args: argparse.Namespace) -> None:
    if port:
        body(ConnectionConfig(engine="postgresql", host=args.pg_host, port=port, user=args.pg_user,
                              password=args.pg_password, database=args.pg_database))
        return
    from dts.localservers import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        body(ConnectionConfig(engine="postgresql", host=server.host, port=server.port, user=server.user,
                              password=server.password, database="w1_bench"))
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--defer-key", action="store_true",
                        help="drop the primary key for the load and build it after (experiment)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare COPY peer run")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=0, help="use this server instead of starting one")
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--pg-password", default="postgres")
    parser.add_argument("--pg-database", default="w1_bench")
    args = parser.parse_args()

    def body(config: ConnectionConfig) -> None:
        print(f"W1 sink load: {args.rows:,} rows in chunks of {args.chunk:,} into PostgreSQL at "
              f"{config.host}:{config.port}, psycopg {psycopg.__version__} ({psycopg.pq.__impl__})")
        # The peer first, and a checkpoint before each run, so neither pays for the other's WAL.
        opener = PostgreSQLSink(config)
        opener.connection()  # creates the database when missing
        opener.close()
        peer = None
        if not args.no_baseline:
            checkpoint(config)
            peer = run_baseline(config, args.rows, args.chunk)
        checkpoint(config)
        sink = run_sink(config, args.rows, args.chunk, args.defer_key)
        report("PostgreSQLSink.load_chunk", args.rows, sink)
        if peer is not None:
            report("peer: bare binary COPY", args.rows, peer)
            print(f"ratio sink/peer (time): {peer.seconds / sink.seconds:.2f} "
                  f"(pgloader end-to-end W1 reference: ~100k rows/s, ../shared/design/performance.md)")
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    with_server(args.pg_port, body, args)


if __name__ == "__main__":
    main()
