"""What every sink does, on its real server: checks, chunk loads, merged batches, idempotent replays."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from connectors.base import Batch, CheckStatus, Chunk, Sink, TableBatch
from connectors.config import ConnectionConfig
from connectors.registry import connector_for, sink_for
from connectors.types import TableId, TableSchema
from tests.conformance.kits import Row, SinkKit, item, items_schema, wrong_password


@pytest.fixture
def sink(sink_kit: SinkKit) -> Iterator[Sink]:
    config = ConnectionConfig.from_dict(sink_kit.config())
    opened = sink_for(dataclasses.replace(config, options={**config.options, "source_engine": "mysql"}))
    yield opened
    opened.close()


def batch(schema: TableSchema, target: TableId, upserts: list[Row], deletes: list[int]) -> Batch:
    return Batch({schema.table: TableBatch(schema, target, {(row[0],): row for row in upserts},
                                           {(key,) for key in deletes})})


def test_check_passes_every_precondition_of_a_prepared_server(sink_kit: SinkKit) -> None:
    data = connector_for(ConnectionConfig.from_dict(sink_kit.config())).check().to_dict()
    assert data["usable_as_sink"], data
    assert any(item["scope"] == "sink" for item in data["items"]), "no sink-scope precondition was checked"


def test_check_names_a_wrong_password(sink_kit: SinkKit) -> None:
    if not sink_kit.has_password:
        pytest.skip(f"the {sink_kit.engine} test server accepts any password")
    report = connector_for(ConnectionConfig.from_dict(wrong_password(sink_kit.config()))).check()
    auth = report.item("authentication")
    assert auth.status is CheckStatus.FAILED and auth.hint
    assert not report.to_dict()["usable_as_sink"]


def test_a_snapshot_chunk_then_merged_batches_land_once(sink_kit: SinkKit, sink: Sink) -> None:
    schema = items_schema(TableId("src", "items"))
    target = sink_kit.target("items")
    sink.prepare(schema, target, defer_indexes=True)
    seeded = [item(i) for i in range(1, 21)]
    assert sink.load_chunk(schema, target, Chunk(schema.table, 0, None, None), seeded) == len(seeded)
    sink.finish_table(schema, target)
    assert sink_kit.rows(target) == seeded

    changes = batch(schema, target, [item(5, 1), item(21)], [3])
    sink.write(changes)
    expected = sorted([row for row in seeded if row[0] not in (3, 5)] + [item(5, 1), item(21)])
    assert sink_kit.rows(target) == expected
    sink.write(changes)  # a replay after a crash before the checkpoint: nothing changes
    assert sink_kit.rows(target) == expected


def test_a_rerun_chunk_replaces_its_key_range_only(sink_kit: SinkKit, sink: Sink) -> None:
    if not sink_kit.replaces_chunk_ranges:
        pytest.skip(f"{sink_kit.engine} is append-only: a re-run chunk is published again, and the stream's "
                    "later changes (read from before the snapshot) remove what it no longer holds")
    schema = items_schema(TableId("src", "items"))
    target = sink_kit.target("items")
    sink.prepare(schema, target)
    sink.load_chunk(schema, target, Chunk(schema.table, 0, None, (11,)), [item(i) for i in range(1, 11)])
    sink.load_chunk(schema, target, Chunk(schema.table, 1, (11,), None), [item(i) for i in range(11, 21)])
    # The first chunk is read again after a crash: row 4 is gone at the source now, the others changed.
    again = [item(i, 2) for i in range(1, 11) if i != 4]
    sink.load_chunk(schema, target, Chunk(schema.table, 0, None, (11,)), again)
    assert sink_kit.rows(target) == again + [item(i) for i in range(11, 21)]
