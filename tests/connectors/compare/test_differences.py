"""Every difference kind, on each engine pair: identical tables report nothing; planted updates,
deletes and inserts are found exactly (no more, no fewer), through the checksum drill-down;
repair through the sink makes a re-verify clean; the exported SQL, run by hand, does the same."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from connectors.compare.options import CompareOptions
from connectors.compare.repair import repair, repair_sql
from connectors.compare.run import close_compare, compare_tables, open_compare
from connectors.compare.table_compare import DIFFERENT, EXTRA, MISSING
from tests.connectors.compare.conftest import Pair

pytestmark = [pytest.mark.timeout(300)]

MYSQL_DDL = ("CREATE TABLE {table} (id BIGINT PRIMARY KEY, qty INT NOT NULL, price DECIMAL(12,2), "
             "name VARCHAR(32), created DATETIME(6), note TEXT)")
PG_DDL = ("CREATE TABLE {table} (id bigint PRIMARY KEY, qty integer NOT NULL, price numeric(12,2), "
          "name character varying(32), created timestamp(6) without time zone, note text)")
ROWS = 3000
# Small chunks and leaves, so a few thousand rows go through several chunks and drill-down levels.
OPTIONS = CompareOptions(chunk_size=700, leaf_rows=16, fanout=8)


def make_rows(count: int) -> list[tuple[Any, ...]]:
    base = dt.datetime(2026, 1, 1, 12, 0, 0)
    return [(i, i % 50, Decimal(i % 10000) / 100, f"n{i}|x" if i % 3 else "", base + dt.timedelta(
        seconds=i, microseconds=i * 7 % 1_000_000), None if i % 11 == 0 else f"note {i} 中文 🚀")
        for i in range(1, count + 1)]


def test_identical_tables_report_zero(pair: Pair) -> None:
    mapping = pair.load("items", MYSQL_DDL, PG_DDL, make_rows(ROWS))
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert report.method == "sql"  # checksums inside both databases
    assert report.chunks_total > 3
    assert (report.source_rows, report.target_rows) == (ROWS, ROWS)
    assert report.differences == []


def plant(pair: Pair) -> dict[int, tuple[str, tuple[str, ...]]]:
    """40/30/30-shaped plants on a small scale: updates, deletes and inserts at the target."""
    t = pair.target.qualified("items")
    planted: dict[int, tuple[str, tuple[str, ...]]] = {}
    for i in (5, 777, 1500, 2999):
        pair.target.sql(f"UPDATE {t} SET qty = qty + 1 WHERE id = %s", [i])
        planted[i] = (DIFFERENT, ("qty",))
    pair.target.sql(f"UPDATE {t} SET price = price + 0.01, note = NULL WHERE id = %s", [1200])
    planted[1200] = (DIFFERENT, ("price", "note"))
    pair.target.sql(f"UPDATE {t} SET created = created + INTERVAL '1' SECOND WHERE id = %s"
                    if pair.target.engine == "postgresql" else
                    f"UPDATE {t} SET created = created + INTERVAL 1 MICROSECOND WHERE id = %s", [42])
    planted[42] = (DIFFERENT, ("created",))
    for i in (1, 1000, 1001, 3000):
        pair.target.sql(f"DELETE FROM {t} WHERE id = %s", [i])
        planted[i] = (MISSING, ())
    for i in (3001, 5000, 2_000_000):
        pair.target.sql(f"INSERT INTO {t} (id, qty, price, name) VALUES (%s, 1, 1.00, 'extra')", [i])
        planted[i] = (EXTRA, ())
    return planted


def found(differences: list[Any]) -> dict[int, tuple[str, tuple[str, ...]]]:
    return {d.key[0]: (d.kind, tuple(sorted(d.columns))) for d in differences}


def test_every_kind_is_found_exactly(pair: Pair) -> None:
    mapping = pair.load("items", MYSQL_DDL, PG_DDL, make_rows(ROWS))
    planted = plant(pair)
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert found(report.differences) == {k: (kind, tuple(sorted(cols))) for k, (kind, cols) in planted.items()}
    by_key = {d.key[0]: d for d in report.differences}
    # Both values are reported for a changed row; only the side that has it for missing/extra.
    assert by_key[5].source_row is not None and by_key[5].target_row is not None
    assert by_key[5].target_row[1] == by_key[5].source_row[1] + 1
    assert by_key[1].target_row is None and by_key[1].source_row is not None
    assert by_key[5000].source_row is None and by_key[5000].target_row is not None
    assert report.counts() == {"missing": 4, "extra": 3, "different": 6}


def test_repair_through_the_sink_makes_reverify_clean(pair: Pair) -> None:
    mapping = pair.load("items", MYSQL_DDL, PG_DDL, make_rows(ROWS))
    plant(pair)
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    compare = open_compare(pair.source.config, pair.target.config, mapping, OPTIONS)
    try:
        outcome = repair(compare, [d.key for d in report.differences], pair.source.config, pair.target.config)
    finally:
        close_compare(compare)
    assert (outcome.requested, outcome.upserts, outcome.deletes) == (13, 10, 3)
    assert outcome.verified_clean and outcome.repaired == 13
    (after,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert after.differences == []
    assert after.target_rows == ROWS


def test_exported_sql_repairs_when_a_dba_runs_it(pair: Pair) -> None:
    mapping = pair.load("items", MYSQL_DDL, PG_DDL, make_rows(ROWS))
    pair.source.sql(f"UPDATE {pair.source.qualified('items')} SET name = %s WHERE id = 9", ["it's; DROP TABLE x --"])
    plant(pair)
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    compare = open_compare(pair.source.config, pair.target.config, mapping, OPTIONS)
    try:
        exported = repair_sql(compare, [d.key for d in report.differences])
    finally:
        close_compare(compare)
    text = exported.sql
    assert text.count("DELETE FROM") == 3 and text.count("INSERT INTO") == 11
    # Nothing was written yet.
    (still,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert len(still.differences) == 14
    for statement in text.strip().splitlines():
        pair.target.sql(statement)
    (after,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert after.differences == []
