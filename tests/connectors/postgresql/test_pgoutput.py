"""The pgoutput decoder on messages a real server produced (read with pg_logical_slot_get_binary_changes)."""

from __future__ import annotations

import time

import pytest

from connectors.postgresql import pgoutput
from connectors.postgresql.position import Lsn, format_lsn, parse_lsn
from tests.connectors.postgresql.conftest import PgSql


def messages(sql: PgSql, slot: str, publication: str) -> list[pgoutput.Message]:
    # The SQL functions decode only flushed WAL, and the test server commits asynchronously.
    sql("SELECT pg_switch_wal()")
    rows = sql("SELECT data FROM pg_logical_slot_get_binary_changes(%s, NULL, NULL, 'proto_version', '1', "
               "'publication_names', %s)", [slot, publication])
    return [pgoutput.decode(bytes(data)) for (data,) in rows]


def test_a_transaction_decodes_to_begin_relation_rows_commit(pg_src: PgSql) -> None:
    pg_src("CREATE TABLE public.t (id int PRIMARY KEY, v text, n numeric)")
    pg_src("CREATE PUBLICATION p_decode FOR TABLE public.t")
    pg_src("SELECT pg_create_logical_replication_slot('dts_decode', 'pgoutput')")
    before = time.time()
    pg_src("BEGIN")
    pg_src("INSERT INTO public.t VALUES (1, 'one', NULL), (2, NULL, 2.5)")
    pg_src("UPDATE public.t SET id = 3 WHERE id = 2")
    pg_src("UPDATE public.t SET v = 'uno' WHERE id = 1")
    pg_src("DELETE FROM public.t WHERE id = 1")
    pg_src("COMMIT")
    pg_src("TRUNCATE public.t")
    decoded = messages(pg_src, "dts_decode", "p_decode")
    kinds = [type(m).__name__ for m in decoded]
    assert kinds == ["Begin", "Relation", "Insert", "Insert", "Update", "Update", "Delete", "Commit",
                     "Begin", "Relation", "Truncate", "Commit"]
    begin, relation = decoded[0], decoded[1]
    assert isinstance(begin, pgoutput.Begin) and before - 5 < begin.commit_time < time.time() + 5
    assert isinstance(relation, pgoutput.Relation)
    assert (relation.namespace, relation.name, relation.replica_identity) == ("public", "t", "d")
    assert [(c.name, c.type_oid, c.is_key) for c in relation.columns] == [
        ("id", 23, True), ("v", 25, False), ("n", 1700, False)]
    assert decoded[2] == pgoutput.Insert(relation.oid, [b"1", b"one", None])
    assert decoded[3] == pgoutput.Insert(relation.oid, [b"2", None, b"2.5"])
    key_change = decoded[4]
    assert isinstance(key_change, pgoutput.Update) and key_change.old_is_key_only
    assert key_change.old == [b"2", None, None] and key_change.new == [b"3", None, b"2.5"]
    same_key = decoded[5]
    assert isinstance(same_key, pgoutput.Update) and same_key.old is None
    assert decoded[6] == pgoutput.Delete(relation.oid, [b"1", None, None], True)
    commit = decoded[7]
    assert isinstance(commit, pgoutput.Commit) and commit.end_lsn > commit.commit_lsn == begin.final_lsn
    truncate = decoded[10]
    assert isinstance(truncate, pgoutput.Truncate) and truncate.relations == (relation.oid,)


def test_full_identity_sends_the_old_row_and_unchanged_toast_is_marked(pg_src: PgSql) -> None:
    pg_src("CREATE TABLE public.t (id int PRIMARY KEY, big text, n int)")
    pg_src("ALTER TABLE public.t ALTER COLUMN big SET STORAGE EXTERNAL")
    pg_src("CREATE PUBLICATION p_toast FOR TABLE public.t")
    pg_src("INSERT INTO public.t VALUES (1, repeat('x', 10000), 1)")
    pg_src("SELECT pg_create_logical_replication_slot('dts_toast', 'pgoutput')")
    pg_src("UPDATE public.t SET n = 2")
    pg_src("ALTER TABLE public.t REPLICA IDENTITY FULL")
    pg_src("UPDATE public.t SET n = 3")
    decoded = messages(pg_src, "dts_toast", "p_toast")
    updates = [m for m in decoded if isinstance(m, pgoutput.Update)]
    assert len(updates) == 2, decoded
    assert updates[0].old is None and updates[0].new == [b"1", pgoutput.UNCHANGED, b"2"]
    assert updates[1].old is not None and not updates[1].old_is_key_only
    assert updates[1].old[2] == b"2" and updates[1].old[1] == b"x" * 10000


def test_malformed_messages_are_refused() -> None:
    for data in (b"", b"Z", b"B\x00\x00", b"I\x00\x00\x00\x01X", b"R\x00\x00\x00\x01public"):
        with pytest.raises(pgoutput.ProtocolError):
            pgoutput.decode(data)


def test_lsn_text_and_order() -> None:
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert format_lsn(parse_lsn("0/16B3748")) == "0/16B3748"
    assert Lsn.parse("1/0") > Lsn.parse("0/FFFFFFFF")
    assert Lsn.from_json(Lsn.parse("A/1").to_json()) == Lsn.parse("A/1")
    for bad in ({"lsn": "nope"}, {"lsn": 5}, {}, {"lsn": "0/1/2"}):
        with pytest.raises(ValueError):
            Lsn.from_json(bad)
