"""Pre-check for routed shard merges: do two shards hold the same key (from a sample of each)?

Shards merged into one target table by key overwrite each other's rows when their keys collide
(two auto-increment sequences both starting at 1). The check reads the first rows of each shard
in key order (a sample: cheap, and where independent sequences collide first) and reports keys
found in more than one shard, unless the route puts the shard column into the target key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from connectors.base import CheckItem, CheckScope, CheckStatus, Source
from connectors.config import ConnectionConfig
from connectors.errors import ConnectorError
from connectors.spec import TaskSpec
from connectors.types import TableId

SAMPLE_ROWS = 1000


def shard_key_conflicts(spec: TaskSpec, source_factory: Callable[[ConnectionConfig], Source],
                        sample: int = SAMPLE_ROWS) -> list[CheckItem]:
    """One check item per routed target shared by several source tables."""
    groups: dict[TableId, list[TableId]] = defaultdict(list)
    for mapping in spec.tables:
        groups[mapping.target].append(mapping.source)
    shared = {target: sources for target, sources in groups.items() if len(sources) > 1}
    if not shared:
        return []
    items = []
    source = source_factory(spec.source)
    try:
        for target, sources in shared.items():
            route = spec.mapping.route(sources[0])
            name = f"mapping.shard_keys.{target}"
            title = f"Shards merged into {target}: conflicting keys"
            if route is not None and route.shard_column_in_key:
                items.append(CheckItem(name, title, CheckStatus.PASSED,
                                       f"the key includes {route.shard_column}, so shards cannot collide",
                                       scope=CheckScope.SOURCE))
                continue
            seen: dict[tuple[Any, ...], list[TableId]] = defaultdict(list)
            for table in sources:
                schema = source.table_schema(table)
                key_at = schema.key_indexes()
                for row in _first_rows(source, schema, sample):
                    seen[tuple(row[i] for i in key_at)].append(table)
            clashes = {key: tables for key, tables in seen.items() if len(tables) > 1}
            if not clashes:
                items.append(CheckItem(name, title, CheckStatus.PASSED,
                                       f"no key found in two shards among the first {sample} rows of each",
                                       scope=CheckScope.SOURCE))
                continue
            examples = "; ".join(f"{key_text(key)} in {', '.join(map(str, tables))}"
                                 for key, tables in list(clashes.items())[:5])
            items.append(CheckItem(
                name, title, CheckStatus.FAILED,
                f"{len(clashes)} key(s) of the sampled rows are in more than one shard: {examples}",
                "set the route's shard_column and shard_column_in_key: true, so the target key tells the shards "
                "apart (or give the shards disjoint keys)", CheckScope.SOURCE))
    except ConnectorError as exc:
        items.append(CheckItem("mapping.shard_keys", "Shards merged into one table: conflicting keys",
                               CheckStatus.FAILED, f"could not sample the shards: {exc}", exc.hint,
                               CheckScope.SOURCE))
    finally:
        source.close()
    return items


def key_text(key: tuple[Any, ...]) -> str:
    return "(" + ", ".join(repr(value) for value in key) + ")"


def _first_rows(source: Source, schema: Any, limit: int) -> Any:
    count = 0
    for chunk in source.snapshot_chunks(schema, max(limit, 1)):
        rows = source.read_chunk(schema, chunk)
        try:
            for row in rows:
                yield row
                count += 1
                if count >= limit:
                    return
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()
        return
