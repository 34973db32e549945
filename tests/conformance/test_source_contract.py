"""What every source does, on its real server: checks, discovery, chunked snapshot, ordered changes, resume."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.base import CheckStatus, Source
from connectors.config import ConnectionConfig
from connectors.events import COMMIT, DELETE, INSERT, ROW_OPS, UPDATE, ChangeEvent
from connectors.registry import connector_for
from connectors.types import TableId
from tests.conformance.kits import SourceKit, canonical, item, wrong_password

ITEM_COLUMNS = ["id", "name", "amount", "at", "note"]


def image(event: ChangeEvent, row: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    """A row image of an event in the canonical `items` form."""
    if row is None:
        return None
    assert event.schema is not None
    names = [column.name for column in event.schema.columns]
    return canonical(tuple(row[names.index(name)] for name in ITEM_COLUMNS))


def read_changes(source: Source, start: Any, table: TableId, rows_wanted: int,
                 timeout: float = 30.0) -> list[ChangeEvent]:
    """Events from start until rows_wanted row events arrived (commits included), within timeout."""
    events: list[ChangeEvent] = []
    rows = 0
    deadline = time.monotonic() + timeout
    stream: Iterator[ChangeEvent] = source.changes(start, {table})
    try:
        for event in stream:
            if event.op in ROW_OPS or event.op == COMMIT:
                events.append(event)
            rows += event.op in ROW_OPS
            if rows >= rows_wanted and event.op == COMMIT:
                return events
            assert time.monotonic() < deadline, f"only {rows} of {rows_wanted} row events in {timeout}s: {events}"
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    raise AssertionError(f"the change stream ended after {rows} of {rows_wanted} row events")


def test_check_passes_every_precondition_of_a_prepared_server(source_kit: SourceKit) -> None:
    report = connector_for(ConnectionConfig.from_dict(source_kit.config())).check()
    data = report.to_dict()
    failed = [item for item in data["items"] if item["status"] == CheckStatus.FAILED.value]
    assert failed == [] and data["usable_as_source"], data
    names = [item["name"] for item in data["items"]]
    assert {"reachable", "authentication"} <= set(names)
    assert any(item["scope"] == "source" for item in data["items"]), "no source-scope precondition was checked"
    assert all(item["title"] and item["status"] in {s.value for s in CheckStatus} for item in data["items"])


def test_check_names_a_wrong_password_and_skips_what_depends_on_it(source_kit: SourceKit) -> None:
    if not source_kit.has_password:
        pytest.skip(f"the {source_kit.engine} test server accepts any password")
    report = connector_for(ConnectionConfig.from_dict(wrong_password(source_kit.config()))).check()
    auth = report.item("authentication")
    assert auth.status is CheckStatus.FAILED and auth.hint, auth
    assert not report.to_dict()["usable_as_source"]
    later = report.items[report.items.index(auth) + 1:]
    assert later and all(item.status is CheckStatus.SKIPPED for item in later), later


def test_discover_lists_the_table_with_its_columns_and_key(source_kit: SourceKit) -> None:
    table = source_kit.create_items()
    catalog = connector_for(ConnectionConfig.from_dict(source_kit.config())).discover()
    found = catalog.table(table.database, table.name)
    assert [column.name for column in found.columns] == ITEM_COLUMNS
    assert found.primary_key == ["id"]
    assert table.database in catalog.databases


def test_snapshot_reads_every_row_exactly_once_across_chunks(source_kit: SourceKit,
                                                             open_source: Callable[[], Source]) -> None:
    table = source_kit.create_items()
    seeded = [item(i) for i in range(1, 51)]
    session = source_kit.session()
    session.insert("items", seeded)
    session.close()
    source = open_source()
    schema = source.table_schema(table)
    assert list(schema.primary_key) == ["id"]
    chunks = list(source.snapshot_chunks(schema, 7))
    assert len(chunks) >= 2, chunks
    names = [column.name for column in schema.columns]
    rows = [canonical(tuple(row[names.index(n)] for n in ITEM_COLUMNS))
            for chunk in chunks for row in source.read_chunk(schema, chunk)]
    assert sorted(rows) == seeded and len(rows) == len(seeded)


def test_changes_arrive_in_commit_order_with_both_images(source_kit: SourceKit,
                                                         open_source: Callable[[], Source]) -> None:
    table = source_kit.create_items()
    source = open_source()
    source.table_schema(table)  # as a task does: the tables first, then the position
    start = source.current_position()
    session = source_kit.session()
    session.insert("items", [item(1), item(2)])
    session.update("items", item(1, 1))
    session.delete("items", 2)
    expected: list[tuple[str, Any, Any]] = [
        (INSERT, None, item(1)), (INSERT, None, item(2)), (UPDATE, item(1), item(1, 1)), (DELETE, item(2), None)]
    if source_kit.supports_key_update:
        session.rekey("items", 1, 100)
        moved = item(1, 1)
        expected.append((UPDATE, moved, (100, *moved[1:])))
    session.close()
    events = [e for e in read_changes(source, start, table, len(expected)) if e.op in ROW_OPS]
    assert [(e.op, image(e, e.after)) for e in events] == [(op, after) for op, _, after in expected]
    # The old key of an update or delete is always there; the whole old row where the engine logs it.
    assert [e.key() for e in events if e.op != INSERT] == [(before[0],) for op, before, _ in expected if op != INSERT]
    if source_kit.full_before_images:
        assert [image(e, e.before) for e in events] == [before for _, before, _ in expected]
    assert all(e.table == table and e.commit_time > 0 for e in events)


def test_resume_from_a_saved_position_replays_nothing_before_it(source_kit: SourceKit,
                                                               open_source: Callable[[], Source]) -> None:
    table = source_kit.create_items()
    source = open_source()
    source.table_schema(table)  # as a task does: the tables first, then the position
    start = source.current_position()
    session = source_kit.session()
    for i in (1, 2, 3):
        session.insert("items", [item(i)])  # three transactions
    session.close()
    events = read_changes(source, start, table, 3)
    commits = [e for e in events if e.op == COMMIT]
    assert len(commits) >= 3
    # The checkpoint a task would have saved after applying the second transaction, through JSON.
    second_row = [e for e in events if e.op in ROW_OPS][1]
    saved = next(e for e in events[events.index(second_row):] if e.op == COMMIT).position
    assert saved is not None
    source.close()  # as a stopped task does: the next run opens its own stream
    resumed = open_source()
    replayed = [e for e in read_changes(resumed, resumed.position_from_json(saved.to_json()), table, 1)
                if e.op in ROW_OPS]
    assert [(e.op, image(e, e.after)) for e in replayed] == [(INSERT, item(3))]
