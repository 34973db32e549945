"""Chunk digests (MD5 of a chunk's rows in key order): equal on both engines for equal rows, a
mismatch that is no difference (zero dates) is drilled into and reports nothing, and a digest
too long for the server falls back to per-row sums and still finds every difference."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.base import Chunk
from connectors.compare.options import CompareOptions
from connectors.compare.run import close_compare, compare_tables, open_compare
from connectors.compare.table_compare import DIFFERENT, MISSING
from tests.connectors.compare.conftest import Pair, copy_with_engine, insert_rows
from tests.connectors.compare.test_tricky_types import TRICKY_DDL, tricky_rows

pytestmark = [pytest.mark.timeout(300)]

OPTIONS = CompareOptions(chunk_size=50, leaf_rows=4, fanout=4)


@pytest.mark.parametrize("which", ["mysql_to_pg", "mysql_to_mysql"])
def test_equal_rows_give_equal_digests_and_one_changed_value_does_not(which: str,
                                                                      request: pytest.FixtureRequest) -> None:
    pair: Pair = request.getfixturevalue(which)
    pair.source.sql(TRICKY_DDL.format(table=pair.source.qualified("tricky")))
    insert_rows(pair.source, "tricky", tricky_rows())
    copy_with_engine(pair.source, pair.target, ["tricky"])
    mapping = pair.mapping("tricky")
    compare = open_compare(pair.source.config, pair.target.config, mapping, OPTIONS)
    try:
        compare.prepare()
        assert compare.use_digest
        whole = Chunk(mapping.source, 0, None, None)

        def digests() -> tuple[tuple[int, str | None] | None, tuple[int, str | None] | None]:
            return (compare.source.digest(mapping.source, compare.source_text, compare.key, whole),
                    compare.target.digest(mapping.target, compare.target_text, compare.key, whole))

        source, target = digests()
        # Decimals, datetimes with 3/6 digits, TIMESTAMP, '' and NULL, utf8mb4, binary: the same text on both.
        assert source == target and source is not None and source[0] == 120
        pair.target.sql(f"UPDATE {pair.target.qualified('tricky')} SET d1 = d1 + 0.0001 WHERE id = 60")
        source, target = digests()
        assert source is not None and target is not None
        assert source[0] == target[0] and source[1] != target[1]
    finally:
        close_compare(compare)


ZERO_DDL = "CREATE TABLE {table} (id INT PRIMARY KEY, d DATE, t DATETIME, n INT)"


def test_zero_dates_cost_a_drill_down_but_are_no_difference(mysql_to_pg: Pair) -> None:
    pair = mysql_to_pg
    pair.source.sql("SET SESSION sql_mode = ''")
    pair.source.sql(ZERO_DDL.format(table=pair.source.qualified("zeros")))
    rows = [(i, "0000-00-00" if i % 9 == 0 else dt.date(2021, 1 + i % 12, 1 + i % 28),
             "0000-00-00 00:00:00" if i % 13 == 0 else dt.datetime(2021, 5, 1, 12, 0, i % 60), i)
            for i in range(1, 201)]
    insert_rows(pair.source, "zeros", rows)
    copy_with_engine(pair.source, pair.target, ["zeros"])  # zero dates became NULL (policy 'null')
    mapping = pair.mapping("zeros")
    compare = open_compare(pair.source.config, pair.target.config, mapping, OPTIONS)
    try:
        compare.prepare()
        whole = Chunk(mapping.source, 0, None, None)
        source = compare.source.digest(mapping.source, compare.source_text, compare.key, whole)
        target = compare.target.digest(mapping.target, compare.target_text, compare.key, whole)
        assert source is not None and target is not None and source != target  # '0000-00-00' vs NULL
    finally:
        close_compare(compare)
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert report.method == "sql" and report.source_rows == 200 and report.differences == []
    pair.target.sql(f"UPDATE {pair.target.qualified('zeros')} SET n = -1 WHERE id = 18")  # a row with a zero date
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert [(d.key, d.kind, d.columns) for d in report.differences] == [((18,), DIFFERENT, ("n",))]


def test_a_digest_cut_short_falls_back_to_per_row_sums(mysql_to_pg: Pair) -> None:
    pair = mysql_to_pg
    pair.source.sql(f"CREATE TABLE {pair.source.qualified('cut')} (id INT PRIMARY KEY, s VARCHAR(40))")
    insert_rows(pair.source, "cut", [(i, f"row {i}") for i in range(1, 301)])
    copy_with_engine(pair.source, pair.target, ["cut"])
    pair.target.sql(f"DELETE FROM {pair.target.qualified('cut')} WHERE id = 77")
    mapping = pair.mapping("cut")
    compare = open_compare(pair.source.config, pair.target.config, mapping, CompareOptions(chunk_size=1000))
    try:
        compare.prepare()
        # A server whose GROUP_CONCAT would be cut at 100 bytes: the digest says it cannot tell...
        compare.source.query("SET SESSION group_concat_max_len = 100")
        whole = Chunk(mapping.source, 0, None, None)
        assert compare.source.digest(mapping.source, compare.source_text, compare.key, whole) is None
        # ...and the chunk is compared by per-row sums instead, finding the missing row.
        outcome = compare.compare_chunk(whole)
        assert (outcome.source_rows, outcome.target_rows) == (300, 299)
        assert [(d.key, d.kind) for d in outcome.differences] == [((77,), MISSING)]
    finally:
        close_compare(compare)
