"""The conformance suite's fixtures: one kit per source engine and per sink engine.

Adding a connector to the suite = one factory below (and its kit in kits.py). The pairs the
platform promises end to end are listed in REQUIRED_PAIRS; test_pairs runs each of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.base import Source
from connectors.pipeline.task import endpoint_configs
from connectors.registry import source_for
from connectors.spec import TaskSpec
from tests.conformance.kits import (
    MongoSinkKit,
    MySQLSinkKit,
    MySQLSourceKit,
    PostgresSinkKit,
    PostgresSourceKit,
    RedisStreamsSinkKit,
    SinkKit,
    SourceKit,
)

KitFactory = Callable[[pytest.FixtureRequest], Any]


def _mysql_source(request: pytest.FixtureRequest) -> SourceKit:
    return MySQLSourceKit(request.getfixturevalue("mariadb"), request.getfixturevalue("mysql_db"))


def _postgres_source(request: pytest.FixtureRequest) -> SourceKit:
    return PostgresSourceKit(request.getfixturevalue("postgres"), request.getfixturevalue("pg_db"))


def _postgres_sink(request: pytest.FixtureRequest) -> SinkKit:
    return PostgresSinkKit(request.getfixturevalue("postgres"))


def _mysql_sink(request: pytest.FixtureRequest) -> SinkKit:
    return MySQLSinkKit(request.getfixturevalue("mariadb"))


def _mongo_sink(request: pytest.FixtureRequest) -> SinkKit:
    return MongoSinkKit(request.getfixturevalue("mongo"))


def _redis_sink(request: pytest.FixtureRequest) -> SinkKit:
    return RedisStreamsSinkKit(request.getfixturevalue("redis_server"))


SOURCE_KITS: dict[str, KitFactory] = {
    "mysql": _mysql_source,
    "postgresql": _postgres_source,
}
SINK_KITS: dict[str, KitFactory] = {
    "postgresql": _postgres_sink,
    "mysql": _mysql_sink,
    "mongodb": _mongo_sink,
    "redis": _redis_sink,
}

# Source → sink pairs that must work end to end (full+incremental with writes during the snapshot).
# Every engine here has a kit, but MongoDB as a source (see test_pairs).
REQUIRED_PAIRS = [
    ("mysql", "postgresql"), ("mysql", "mysql"), ("postgresql", "postgresql"), ("postgresql", "mysql"),
    ("mysql", "mongodb"), ("mongodb", "mongodb"), ("mysql", "redis"), ("postgresql", "redis"),
]


def make_source_kit(request: pytest.FixtureRequest, engine: str) -> SourceKit:
    """The engine's source kit, closed when the test ends."""
    kit: SourceKit = SOURCE_KITS[engine](request)
    request.addfinalizer(kit.close)
    return kit


def make_sink_kit(request: pytest.FixtureRequest, engine: str) -> SinkKit:
    kit: SinkKit = SINK_KITS[engine](request)
    request.addfinalizer(kit.close)
    return kit


@pytest.fixture(params=sorted(SOURCE_KITS))
def source_kit(request: pytest.FixtureRequest) -> SourceKit:
    return make_source_kit(request, request.param)


@pytest.fixture(params=sorted(SINK_KITS))
def sink_kit(request: pytest.FixtureRequest) -> SinkKit:
    return make_sink_kit(request, request.param)


def task_spec(source: SourceKit, sink: SinkKit | None, tables: list[str], mode: str, **options: Any) -> TaskSpec:
    """A spec from source to sink (or back to the source's own server, for source-only tests)."""
    values: dict[str, Any] = {"heartbeat_seconds": 0.3, "flush_interval": 0.2, **source.spec_options(), **options}
    target = sink.config() if sink is not None else source.config()
    mappings = [{"source": str(source.table(name)), "target": str(sink.target(name) if sink else source.table(name))}
                for name in tables]
    return TaskSpec.from_json({"name": "conformance", "source": source.config(), "target": target, "mode": mode,
                               "tables": mappings, "options": values})


@pytest.fixture
def open_source(source_kit: SourceKit) -> Iterator[Callable[[], Source]]:
    """open_source(): the kit's Source, configured exactly as a task would configure it."""
    opened: list[Source] = []
    spec = task_spec(source_kit, None, ["items"], "incremental")  # one task: one replica id, one slot

    def open_one() -> Source:
        source = source_for(endpoint_configs(spec)[0])
        opened.append(source)
        return source

    yield open_one
    for source in opened:
        source.close()
