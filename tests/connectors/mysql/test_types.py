"""COLUMN_TYPE parsing, zero-date policies on the schema, value helpers, positions and the DDL parser."""

from __future__ import annotations

import datetime
import struct

import pytest

from connectors.errors import ConnectorError
from connectors.mysql.ddl_parser import (
    ALTER_TABLE,
    CREATE_INDEX,
    CREATE_TABLE,
    DROP_DATABASE,
    DROP_INDEX,
    DROP_TABLE,
    RENAME_TABLE,
    TRUNCATE_TABLE,
    parse_ddl,
)
from connectors.mysql.position import BinlogPosition
from connectors.mysql.types import (
    apply_zero_date_policy,
    float32_shortest,
    parse_column_type,
    parse_labels,
    parse_time_text,
    zero_date_policy,
)
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId


@pytest.mark.parametrize(("text", "expected"), [
    ("tinyint(4)", CanonicalType(Kind.INT, bits=8)),
    ("tinyint(3) unsigned", CanonicalType(Kind.INT, bits=8, unsigned=True)),
    ("tinyint(1)", CanonicalType(Kind.INT, bits=8)),  # not BOOL: 2 must round-trip
    ("smallint(6)", CanonicalType(Kind.INT, bits=16)),
    ("smallint(5) unsigned", CanonicalType(Kind.INT, bits=16, unsigned=True)),
    ("mediumint(9)", CanonicalType(Kind.INT, bits=24)),
    ("mediumint(8) unsigned", CanonicalType(Kind.INT, bits=24, unsigned=True)),
    ("int(11)", CanonicalType(Kind.INT, bits=32)),
    ("int(10) unsigned zerofill", CanonicalType(Kind.INT, bits=32, unsigned=True)),
    ("bigint(20)", CanonicalType(Kind.INT, bits=64)),
    ("bigint(20) unsigned", CanonicalType(Kind.INT, bits=64, unsigned=True)),
    ("decimal(65,30)", CanonicalType(Kind.DECIMAL, precision=65, scale=30)),
    ("decimal(12,2) unsigned", CanonicalType(Kind.DECIMAL, precision=12, scale=2)),
    ("decimal(10,0)", CanonicalType(Kind.DECIMAL, precision=10, scale=0)),
    ("float", CanonicalType(Kind.FLOAT, bits=32)),
    ("float(7,3)", CanonicalType(Kind.FLOAT, bits=32)),
    ("double", CanonicalType(Kind.FLOAT, bits=64)),
    ("double(10,2) unsigned", CanonicalType(Kind.FLOAT, bits=64)),
    ("bit(1)", CanonicalType(Kind.BIT, length=1)),
    ("bit(64)", CanonicalType(Kind.BIT, length=64)),
    ("char(5)", CanonicalType(Kind.STRING, length=5, fixed=True)),
    ("varchar(255)", CanonicalType(Kind.STRING, length=255)),
    ("tinytext", CanonicalType(Kind.STRING)),
    ("text", CanonicalType(Kind.STRING)),
    ("mediumtext", CanonicalType(Kind.STRING)),
    ("longtext", CanonicalType(Kind.STRING)),
    ("binary(16)", CanonicalType(Kind.BYTES, length=16, fixed=True)),
    ("varbinary(10)", CanonicalType(Kind.BYTES, length=10)),
    ("tinyblob", CanonicalType(Kind.BYTES)),
    ("blob", CanonicalType(Kind.BYTES)),
    ("mediumblob", CanonicalType(Kind.BYTES)),
    ("longblob", CanonicalType(Kind.BYTES)),
    ("json", CanonicalType(Kind.JSON)),
    ("date", CanonicalType(Kind.DATE)),
    ("time", CanonicalType(Kind.TIME)),
    ("time(6)", CanonicalType(Kind.TIME, fsp=6)),
    ("datetime", CanonicalType(Kind.DATETIME)),
    ("datetime(3)", CanonicalType(Kind.DATETIME, fsp=3)),
    ("timestamp", CanonicalType(Kind.TIMESTAMP)),
    ("timestamp(6)", CanonicalType(Kind.TIMESTAMP, fsp=6)),
    ("year(4)", CanonicalType(Kind.YEAR)),
    ("year", CanonicalType(Kind.YEAR)),
    ("geometry", CanonicalType(Kind.UNKNOWN)),
])
def test_column_types_map_to_canonical_types_keeping_the_native_text(text: str, expected: CanonicalType) -> None:
    parsed = parse_column_type(text)
    assert parsed == CanonicalType(**{**expected.__dict__, "native": text})


def test_mariadb_json_is_longtext_recognised_by_its_check_constraint() -> None:
    assert parse_column_type("longtext", is_json=True).kind == Kind.JSON
    assert parse_column_type("longtext").kind == Kind.STRING


def test_enum_and_set_labels_with_quotes_commas_backslashes_and_parentheses() -> None:
    # As information_schema.COLUMN_TYPE prints them: quotes doubled, backslashes escaped.
    text = "enum('it''s','a,b','back\\\\slash','par)en','','dq\"x')"
    assert parse_column_type(text) == CanonicalType(
        Kind.ENUM, values=("it's", "a,b", "back\\slash", "par)en", "", 'dq"x'), native=text)
    assert parse_column_type("set('x''y','pq')").values == ("x'y", "pq")
    assert parse_labels("'a', 'b\\'c'") == ("a", "b'c")


def test_zero_date_policy_shapes_date_columns() -> None:
    date = ColumnSchema("d", parse_column_type("datetime(6)"), nullable=False)
    assert apply_zero_date_policy(date, "null").nullable is True
    assert apply_zero_date_policy(date, "epoch") == date
    assert apply_zero_date_policy(date, "fail") == date
    as_text = apply_zero_date_policy(date, "string")
    assert as_text.type.kind == Kind.STRING and as_text.type.length == 26 and as_text.type.native == "datetime(6)"
    number = ColumnSchema("n", parse_column_type("int(11)"), nullable=False)
    assert apply_zero_date_policy(number, "null") == number
    with pytest.raises(ConnectorError, match="zero_date_policy"):
        zero_date_policy({"zero_date_policy": "ignore"})
    assert zero_date_policy({}) == "null"


def test_float32_values_use_the_shortest_text_that_round_trips() -> None:
    for text in ("0.1", "1.2345678", "3.4028235e+38", "-7.5", "1e-45", "16777217"):
        exact = struct.unpack("<f", struct.pack("<f", float(text)))[0]
        shortest = float32_shortest(exact)
        assert struct.pack("<f", shortest) == struct.pack("<f", exact)
        assert len(repr(shortest)) <= len(repr(exact))
    assert float32_shortest(struct.unpack("<f", struct.pack("<f", 0.1))[0]) == 0.1


def test_time_text_negative_and_beyond_a_day() -> None:
    assert parse_time_text("-838:59:59.500000") == -datetime.timedelta(hours=838, minutes=59, seconds=59.5)
    assert parse_time_text("25:00:00") == datetime.timedelta(hours=25)
    assert parse_time_text("-00:00:01.5") == datetime.timedelta(seconds=-1.5)


def test_binlog_positions_order_by_file_number_then_offset_and_round_trip_json() -> None:
    a = BinlogPosition("binlog.000009", 900)
    b = BinlogPosition("binlog.000010", 4)
    c = BinlogPosition("binlog.000010", 120, "0-1-5")
    assert a < b < c and sorted([c, a, b]) == [a, b, c]
    assert BinlogPosition("binlog.000010", 120) == c  # the GTID is information, not identity
    assert BinlogPosition.from_json(c.to_json()) == c and BinlogPosition.from_json(c.to_json()).gtid == "0-1-5"
    with pytest.raises(ValueError):
        BinlogPosition.from_json({"file": "binlog.000001"})
    with pytest.raises(ValueError):
        BinlogPosition("binlog", 4)


@pytest.mark.parametrize(("sql", "kind", "tables"), [
    ("CREATE TABLE t (id int primary key)", CREATE_TABLE, ["db.t"]),
    ("create or replace table `o``dd`.`x y` (id int)", CREATE_TABLE, ["o`dd.x y"]),
    ("CREATE TABLE IF NOT EXISTS other.t2 LIKE t", CREATE_TABLE, ["other.t2"]),
    ("CREATE TEMPORARY TABLE t (id int)", None, []),
    ("/* c */ ALTER TABLE `t` ADD COLUMN b int, DROP COLUMN a", ALTER_TABLE, ["db.t"]),
    ("ALTER ONLINE IGNORE TABLE t ADD KEY (a)", ALTER_TABLE, ["db.t"]),
    ("ALTER TABLE t RENAME COLUMN a TO b", ALTER_TABLE, ["db.t"]),
    ("ALTER TABLE t ADD c int, RENAME TO db2.u", ALTER_TABLE, ["db.t", "db2.u"]),
    ("DROP TABLE IF EXISTS `t`, db2.u /* generated by server */", DROP_TABLE, ["db.t", "db2.u"]),
    ("DROP TEMPORARY TABLE IF EXISTS t", None, []),
    ("RENAME TABLE a TO b, db2.c TO db2.d", RENAME_TABLE, ["db.a", "db.b", "db2.c", "db2.d"]),
    ("TRUNCATE TABLE t", TRUNCATE_TABLE, ["db.t"]),
    ("truncate t", TRUNCATE_TABLE, ["db.t"]),
    ("CREATE UNIQUE INDEX ix ON t (a)", CREATE_INDEX, ["db.t"]),
    ("DROP INDEX ix ON db2.t", DROP_INDEX, ["db2.t"]),
    ("/*!40000 ALTER TABLE `t` DISABLE KEYS */", ALTER_TABLE, ["db.t"]),
    ("CREATE VIEW v AS SELECT 1", None, []),
    ("INSERT INTO t VALUES (1)", None, []),
    ("GRANT SELECT ON *.* TO u", None, []),
])
def test_ddl_statements_name_the_tables_they_change(sql: str, kind: str | None, tables: list[str]) -> None:
    statement = parse_ddl(sql, "db")
    if kind is None:
        assert statement is None
        return
    assert statement is not None and statement.kind == kind
    assert [str(t) for t in statement.tables] == tables


def test_drop_database_names_the_database() -> None:
    statement = parse_ddl("DROP DATABASE IF EXISTS `shop`", "")
    assert statement is not None and statement.kind == DROP_DATABASE and statement.database == "shop"
    assert parse_ddl("ALTER TABLE t ADD c int", "") is None  # no default database: the table is unknown
    assert TableId("a", "b") == TableId("a", "b")
