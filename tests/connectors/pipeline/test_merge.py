"""Merging events per key: the batch's final state per key matches applying the events one by one."""

from __future__ import annotations

import random

from connectors.events import DELETE, INSERT, UPDATE, ChangeEvent
from connectors.pipeline.merge import BatchBuilder
from connectors.pipeline.partition import split
from connectors.types import CanonicalType, ColumnSchema, Kind, TableId, TableSchema

T = TableId("shop", "orders")
SCHEMA = TableSchema(T, (ColumnSchema("id", CanonicalType(Kind.INT, bits=64)),
                         ColumnSchema("v", CanonicalType(Kind.STRING))), primary_key=("id",))


def ev(op: str, before: tuple | None, after: tuple | None) -> ChangeEvent:
    return ChangeEvent(op, T, SCHEMA, before, after, 0.0, None)


def apply_one_by_one(events: list[ChangeEvent], start: dict) -> dict:
    table = dict(start)
    for e in events:
        if e.op == INSERT:
            table[e.after[0]] = e.after
        elif e.op == UPDATE:
            table.pop(e.before[0], None)
            table[e.after[0]] = e.after
        else:
            table.pop(e.before[0], None)
    return table


def apply_batch(builder: BatchBuilder, start: dict) -> dict:
    table = dict(start)
    batch, *_ = builder.take()
    entry = batch.tables.get(T)
    if entry is None:
        return table
    assert not set(entry.upserts) & entry.deletes, "a key is either upserted or deleted, never both"
    for (key,) in entry.deletes:
        table.pop(key, None)
    for (key,), row in entry.upserts.items():
        table[key] = row
    return table


def test_insert_then_updates_become_one_upsert_of_the_last_image() -> None:
    builder = BatchBuilder(lambda t: t)
    for e in [ev(INSERT, None, (1, "a")), ev(UPDATE, (1, "a"), (1, "b")), ev(UPDATE, (1, "b"), (1, "c"))]:
        builder.add(e)
    batch, *_ = builder.take()
    assert batch.tables[T].upserts == {(1,): (1, "c")} and batch.tables[T].deletes == set()


def test_insert_then_delete_is_kept_as_a_delete() -> None:
    builder = BatchBuilder(lambda t: t)
    builder.add(ev(INSERT, None, (1, "a")))
    builder.add(ev(DELETE, (1, "a"), None))
    batch, *_ = builder.take()
    assert batch.tables[T].upserts == {} and batch.tables[T].deletes == {(1,)}


def test_a_key_change_deletes_the_old_key_and_upserts_the_new() -> None:
    builder = BatchBuilder(lambda t: t)
    builder.add(ev(UPDATE, (1, "a"), (2, "a")))
    builder.add(ev(INSERT, None, (1, "new")))
    batch, *_ = builder.take()
    assert batch.tables[T].upserts == {(2,): (2, "a"), (1,): (1, "new")}
    assert batch.tables[T].deletes == set()


def test_random_event_sequences_merge_to_the_same_result_as_one_by_one() -> None:
    rng = random.Random(7)
    for _ in range(300):
        start = {k: (k, f"s{k}") for k in range(5) if rng.random() < 0.5}
        current = dict(start)
        events = []
        for step in range(rng.randint(1, 25)):
            key = rng.randrange(6)
            if key in current:
                choice = rng.choice(["update", "delete", "rekey"])
                if choice == "delete":
                    events.append(ev(DELETE, current[key], None))
                else:
                    free = [k for k in range(6) if k not in current] or [key]
                    new_key = rng.choice(free) if choice == "rekey" else key
                    after = (new_key, f"v{step}")
                    events.append(ev(UPDATE, current[key], after))
            else:
                events.append(ev(INSERT, None, (key, f"i{step}")))
            current = apply_one_by_one(events[-1:], current)
        builder = BatchBuilder(lambda t: t)
        for e in events:
            builder.add(e)
        assert apply_batch(builder, start) == apply_one_by_one(events, start)


def test_partitions_cover_every_key_once() -> None:
    builder = BatchBuilder(lambda t: t)
    for k in range(1000):
        builder.add(ev(INSERT, None, (k, "x")))
    for k in range(1000, 1100):
        builder.add(ev(DELETE, (k, "x"), None))
    batch, *_ = builder.take()
    parts = split(batch, 3)
    upserts = [key for p in parts for key in p.tables[T].upserts]
    deletes = [key for p in parts for key in p.tables[T].deletes]
    assert sorted(upserts) == [(k,) for k in range(1000)]
    assert sorted(deletes) == [(k,) for k in range(1000, 1100)]
    assert all(p.tables[T].upserts for p in parts)
