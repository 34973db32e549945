"""Values that trip naive compares do not produce false differences, and real ones are still found.

Decimals at scale, datetimes with fractions (3 and 6 digits), TIMESTAMP across time zones, NULL
next to '', utf8mb4 (4-byte characters), binary with NUL and 0xFF bytes, '|' inside strings, JSON
(reordered by jsonb), FLOAT and DOUBLE (the worker path with a tolerance), zero dates under the
task's policy, string and composite keys (bisection instead of integer buckets).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from connectors.compare.options import CompareOptions
from connectors.compare.run import compare_tables
from connectors.compare.table_compare import DIFFERENT, EXTRA, MISSING
from tests.connectors.compare.conftest import Pair, copy_with_engine, insert_rows

pytestmark = [pytest.mark.timeout(300)]

OPTIONS = CompareOptions(chunk_size=50, leaf_rows=4, fanout=4)

TRICKY_DDL = ("CREATE TABLE {table} (id INT PRIMARY KEY, d1 DECIMAL(10,4), d2 DECIMAL(30,0), "
              "t3 DATETIME(3), t6 DATETIME(6), ts TIMESTAMP(6) NULL, day DATE, s VARCHAR(40), c CHAR(5), "
              "e ENUM('a','b|c',''), bin VARBINARY(16), blb BLOB, txt TEXT) CHARACTER SET utf8mb4")


def tricky_rows() -> list[tuple[Any, ...]]:
    rows = []
    strings = ["", None, "|", "a|b", "||", "N", "1:x", "🚀 emoji 𝄞", "中文", "tab\there", "quote'\"", "  trailing "]
    for i in range(1, 121):
        s = strings[i % len(strings)]
        rows.append((
            i, Decimal("-12.3400") if i % 5 == 0 else Decimal(i) / 7, Decimal(10) ** 29 - i,
            dt.datetime(2026, 3, 1, 1, 2, 3, (i * 1000) % 1_000_000),
            dt.datetime(1999, 12, 31, 23, 59, 59, 999999 - i), None if i % 4 == 0 else
            dt.datetime(2026, 6, 1, 10, 0, 0, i), dt.date(2000 + i % 30, 1 + i % 12, 1 + i % 28), s,
            None if i % 6 == 0 else ("" if i % 2 else "ab"), ["a", "b|c", ""][i % 3],
            None if i % 7 == 0 else bytes([0, 255, i % 256, 124]), b"" if i % 2 else b"\x00" * i,
            None if i % 3 == 0 else ""))
    return rows


@pytest.mark.parametrize("which", ["mysql_to_pg", "mysql_to_mysql"])
def test_tricky_types_compare_equal_then_each_change_is_found(which: str, request: pytest.FixtureRequest) -> None:
    pair: Pair = request.getfixturevalue(which)
    pair.source.sql(TRICKY_DDL.format(table=pair.source.qualified("tricky")))
    insert_rows(pair.source, "tricky", tricky_rows())
    copy_with_engine(pair.source, pair.target, ["tricky"])
    mapping = pair.mapping("tricky")
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert report.method == "sql"
    assert report.source_rows == 120 and report.differences == []

    t = pair.target.qualified("tricky")
    # NULL vs '' is a difference, in both directions; so is one byte of a blob and a ten-thousandth.
    pair.target.sql(f"UPDATE {t} SET txt = '' WHERE id = 3")  # was NULL
    pair.target.sql(f"UPDATE {t} SET s = NULL WHERE id = 12")  # was ''
    pair.target.sql(f"UPDATE {t} SET d1 = d1 + 0.0001 WHERE id = 20")
    pair.target.sql(f"UPDATE {t} SET blb = %s WHERE id = 22", [b"\x00" * 21 + b"\x01"])
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert {d.key[0]: (d.kind, d.columns) for d in report.differences} == {
        3: (DIFFERENT, ("txt",)), 12: (DIFFERENT, ("s",)), 20: (DIFFERENT, ("d1",)), 22: (DIFFERENT, ("blb",))}


FLOAT_DDL = ("CREATE TABLE {table} (id INT PRIMARY KEY, f FLOAT, g DOUBLE, j JSON, tm TIME(6), "
             "flags BIT(5), zd DATE)")


def test_floats_json_time_bit_and_zero_dates_use_the_worker_path(mysql_to_pg: Pair) -> None:
    pair = mysql_to_pg
    pair.source.sql("SET SESSION sql_mode = ''")
    pair.source.sql(FLOAT_DDL.format(table=pair.source.qualified("floaty")))
    rows = [(i, 0.1 * i, 1 / 3 * i, '{"b": [1, 2.5, "x"], "a": {"z": null, "y": "中"}}' if i % 2 else None,
             dt.timedelta(hours=-i, microseconds=i), i % 32,
             "0000-00-00" if i % 10 == 0 else dt.date(2020, 1, i % 28 + 1))
            for i in range(1, 81)]
    insert_rows(pair.source, "floaty", rows)
    copy_with_engine(pair.source, pair.target, ["floaty"])
    mapping = pair.mapping("floaty")
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert report.method == "rows"  # floats have no exact common SQL text: compared in the worker
    assert report.source_rows == 80 and report.differences == []
    t = pair.target.qualified("floaty")
    pair.target.sql(f"UPDATE {t} SET g = g * 1.001 WHERE id = 7")  # beyond the tolerance
    pair.target.sql(f"UPDATE {t} SET j = '{{\"a\": 1}}' WHERE id = 9")
    pair.target.sql(f"UPDATE {t} SET zd = '1970-01-01' WHERE id = 30")  # the zero date became NULL there
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert {d.key[0]: d.columns for d in report.differences} == {7: ("g",), 9: ("j",), 30: ("zd",)}


def test_string_and_composite_keys_bisect(mysql_to_pg: Pair) -> None:
    pair = mysql_to_pg
    pair.source.sql(f"CREATE TABLE {pair.source.qualified('skeys')} (region VARCHAR(8), code VARCHAR(16), "
                    "qty INT, PRIMARY KEY (region, code))")
    rows = [(["eu", "us", "ap"][i % 3], f"c{i:04d}" if i % 5 else f"Z-{i}", i) for i in range(600)]
    insert_rows(pair.source, "skeys", rows)
    copy_with_engine(pair.source, pair.target, ["skeys"])
    mapping = pair.mapping("skeys")
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert report.chunks_total >= 12 and report.differences == []
    t = pair.target.qualified("skeys")
    pair.target.sql(f"UPDATE {t} SET qty = -1 WHERE region = 'us' AND code = 'c0301'")
    pair.target.sql(f"DELETE FROM {t} WHERE region = 'ap' AND code = 'Z-5'")
    pair.target.sql(f"INSERT INTO {t} VALUES ('eu', 'zzz', 1)")
    (report,) = compare_tables(pair.source.config, pair.target.config, [mapping], OPTIONS)
    assert {(d.key, d.kind) for d in report.differences} == {
        (("us", "c0301"), DIFFERENT), (("ap", "Z-5"), MISSING), (("eu", "zzz"), EXTRA)}
