"""Values kept as JSON by the platform (chunk bounds, quarantined rows) survive PostgreSQL's jsonb exactly."""

from __future__ import annotations

import datetime
import decimal

from psycopg.types.json import Jsonb

from connectors.keys import key_from_json, key_to_json
from connectors.quarantine import from_jsonable, jsonable
from connectors.types import CanonicalType, ColumnSchema, Kind
from dts.localservers import PostgresServer

NUL_TEXT = "a\x00b\x00"  # MySQL text may hold NUL; jsonb cannot
KEY = (7, NUL_TEXT, decimal.Decimal("1.50"), b"\x00\xff", datetime.datetime(2024, 1, 2, 3, 4, 5, 6))


def test_keys_with_nul_text_round_trip_through_jsonb(postgres: PostgresServer) -> None:
    conn = postgres.connect()
    try:
        stored = conn.execute("SELECT %s::jsonb", [Jsonb(key_to_json(KEY))]).fetchone()[0]
    finally:
        conn.close()
    assert key_from_json(stored) == KEY


def test_quarantined_values_with_nul_text_round_trip_through_jsonb(postgres: PostgresServer) -> None:
    column = ColumnSchema("body", CanonicalType(Kind.STRING))
    conn = postgres.connect()
    try:
        stored = conn.execute("SELECT %s::jsonb", [Jsonb({"body": jsonable(NUL_TEXT)})]).fetchone()[0]
    finally:
        conn.close()
    assert stored == {"body": {"$text_nul": ["a", "b", ""]}}
    assert from_jsonable(stored["body"], column) == NUL_TEXT
    assert jsonable("plain") == "plain"  # readable as it is when nothing needs escaping
