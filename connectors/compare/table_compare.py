"""Comparing one table pair: plan key ranges, checksum both sides, drill down into what differs.

1. ``plan``: the same primary-key ranges for both sides (integer keys: arithmetic ranges from the
   min and max of both sides; other keys: every chunk_size-th key of the source). The first and
   last ranges are open, so rows outside the planned span are still seen.
2. ``compare_chunk``: count and digest (MD5 of the rows' texts in key order, see endpoint) per
   side, both sides at once; where a digest cannot be taken (keys the engines order differently),
   count and sum of per-row checksums of normalised rows. Equal: done. Otherwise drill down: an
   integer-key range is split into ``fanout`` buckets whose per-row checksum sums come back from
   one GROUP BY scan per side; other keys are bisected at the source's middle key; at
   ``leaf_rows`` rows or fewer, rows are read from both sides and compared by key.
   When some column has no canonical SQL text on both engines (floats, JSON, TIME, BIT) or rows are
   mapped first (a sync task's mapping, see ``mapped``), each chunk is read from both sides and
   compared in the worker instead.
3. A key found only at the source is ``missing`` (in the target), only at the target ``extra``,
   on both with unequal columns ``different`` (with the columns and both rows).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from connectors.base import Chunk
from connectors.errors import ConnectorError
from connectors.keys import value_to_json
from connectors.spec import TableMapping
from connectors.transform.plan import Mapper
from connectors.types import ColumnSchema, Kind, TableSchema

from .endpoint import DIGEST_BYTES, Endpoint, sql_compatible
from .mapped import MappedTable, mapped_table, needs_mapping
from .normalise import row_normaliser, same_value
from .options import CompareOptions
from .throttle import Throttle

MISSING, EXTRA, DIFFERENT = "missing", "extra", "different"
LEAF_BATCH = 200  # small ranges read in one query per side
T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Difference:
    key: tuple[Any, ...]  # canonical key values, in key column order
    kind: str  # MISSING | EXTRA | DIFFERENT
    columns: tuple[str, ...] = ()  # DIFFERENT: the columns that differ
    source_row: tuple[Any, ...] | None = None  # canonical values in compare-column order
    target_row: tuple[Any, ...] | None = None


@dataclass
class ChunkOutcome:
    chunk: Chunk
    source_rows: int
    target_rows: int
    differences: list[Difference] = field(default_factory=list)
    method: str = "sql"  # sql: checksums in the databases; rows: compared in the worker; count


class TableCompare:
    """One table pair over two endpoints (each used by one thread at a time)."""

    def __init__(self, source: Endpoint, target: Endpoint, mapping: TableMapping, options: CompareOptions, *,
                 mapper: Mapper | None = None, throttle: Throttle | None = None) -> None:
        self.source = source
        self.target = target
        self.mapping = mapping
        self.options = options
        self.mapper = mapper  # the sync task's mapping: rows are compared as they land at the target
        self.throttle = throttle or Throttle(source, options.rate_limit_rows, options.max_source_threads_running,
                                             pause_seconds=options.load_pause_seconds)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="compare-side")
        self._prepared = False

    # -- setup ---------------------------------------------------------------------------------------

    def prepare(self) -> None:
        if self._prepared:
            return
        mapping = self.mapping
        self.source_schema: TableSchema = self.source.schema(mapping.source)
        self.target_schema: TableSchema = self.target.schema(mapping.target)
        key = self.source_schema.key_columns
        if not key:
            raise ConnectorError(f"table {mapping.source} has no primary key and no unique NOT NULL key: its rows "
                                 "cannot be matched by key", hint="add a primary key, or leave the table out of "
                                                                  "the compare's scope")
        self.key = key
        self.target_key: tuple[str, ...] = key  # the key's names at the target (renamed by a mapping)
        self.mapped: MappedTable | None = None
        self.source_columns: list[ColumnSchema] = []
        self.target_columns: list[ColumnSchema] = []
        if self.mapper is not None and needs_mapping(self.mapper, self.mapper.plan(self.source_schema)):
            self._prepare_mapped(mapped_table(self.mapper, self.source_schema))
        else:
            self._prepare_plain()
        first = self.source_schema.column(key[0])
        self.int_key = len(key) == 1 and first.type.kind in (Kind.INT, Kind.YEAR) and \
            self.target_schema.column(self.target_key[0]).type.kind in (Kind.INT, Kind.YEAR)
        self._prepared = True

    def _prepare_mapped(self, mapped: MappedTable) -> None:
        """Source rows through the task's plan against the target's columns of the plan (worker path)."""
        by_name = {c.name: c for c in self.target_schema.columns}
        names = [c.name for c in mapped.columns]
        absent = [n for n in [*names, *(column for column, _ in mapped.scope)] if n not in by_name]
        if absent:
            raise ConnectorError(f"target table {self.mapping.target} lacks column(s) {', '.join(absent)} that the "
                                 f"sync task's mapping gives {self.mapping.source}",
                                 hint="re-run the sync task's schema migration, or map the table to the right target")
        self.mapped = mapped
        self.target_key = mapped.key
        self.names = names
        self.key_indexes = [names.index(k) for k in mapped.key]
        self.source_columns = list(self.source_schema.columns)  # all of them: a filter may use a left-out one
        self.target_columns = [by_name[n] for n in names]
        self.normalise = row_normaliser(list(mapped.columns), self.options.zero_date_policy)
        self.target.scope = mapped.scope
        self.use_sql = self.use_digest = False
        self.same_order = self.source.engine == self.target.engine

    def _prepare_plain(self) -> None:
        mapping, key = self.mapping, self.key
        by_name = {c.name: c for c in self.target_schema.columns}
        names = list(self.source_schema.column_names)
        absent = [n for n in names if n not in by_name]
        if absent:
            raise ConnectorError(f"target table {mapping.target} lacks column(s) {', '.join(absent)} of "
                                 f"{mapping.source}", hint="re-run the sync task's schema migration, or map the "
                                                           "table to the right target")
        self.names = names
        self.key_indexes = [names.index(k) for k in key]
        self.source_columns = list(self.source_schema.columns)
        self.target_columns = [by_name[n] for n in names]
        self.normalise = row_normaliser(self.source_columns, self.options.zero_date_policy)
        self.use_sql = all(
            sql_compatible(s.type, s.type) and sql_compatible(s.type, t.type)
            for s, t in zip(self.source_columns, self.target_columns, strict=True))
        if self.use_sql:
            self.source_exprs = [self.source.canonical_expr(mapping.source, c, c.type) for c in self.source_columns]
            self.target_exprs = [self.target.canonical_expr(mapping.target, t, s.type)
                                 for s, t in zip(self.source_columns, self.target_columns, strict=True)]
        # Text keys may sort differently on two engines (collations): ranges cannot be split further.
        self.same_order = self.source.engine == self.target.engine or not any(
            self.source_schema.column(k).type.kind in (Kind.STRING, Kind.ENUM, Kind.SET) for k in key)
        # Chunk digests join rows in key order: only where both sides order the keys alike.
        self.use_digest = self.use_sql and self.same_order and self.source.can_digest(self.source_schema, key) \
            and self.target.can_digest(self.target_schema, key)
        if self.use_digest:
            self.source_text = self.source.row_text(
                [self.source.fast_expr(mapping.source, c, c.type) for c in self.source_columns], self.source_columns)
            self.target_text = self.target.row_text(
                [self.target.fast_expr(mapping.target, t, s.type)
                 for s, t in zip(self.source_columns, self.target_columns, strict=True)], self.target_columns)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _both(self, on_source: Callable[[], T], on_target: Callable[[], U]) -> tuple[T, U]:
        """Run the source's and the target's query at the same time (each side has its own connection)."""
        self.throttle.before_source_query()
        pending = self._pool.submit(on_target)
        first = on_source()
        return first, pending.result()

    # -- planning ------------------------------------------------------------------------------------

    def plan(self) -> list[Chunk]:
        self.prepare()
        table = self.mapping.source
        size = self.options.chunk_size
        if self.use_digest:  # a digest holds the chunk's row text in the server's memory: keep it bounded
            row_bytes = self.source.estimate_row_bytes(self.mapping.source)
            size = max(1, min(size, DIGEST_BYTES // max(1, row_bytes)))
        if self.int_key:
            column, target_column = self.key[0], self.target_key[0]
            (smin, smax), (tmin, tmax) = self._both(lambda: self.source.min_max(self.mapping.source, column),
                                                    lambda: self.target.min_max(self.mapping.target, target_column))
            lows = [int(v) for v in (smin, tmin) if v is not None]
            highs = [int(v) for v in (smax, tmax) if v is not None]
            if not lows:
                return [Chunk(table, 0, None, None)]
            low, high = min(lows), max(highs)
            span = high - low + 1
            estimate = self.source.estimate_rows(self.mapping.source)
            density = min(1.0, estimate / span) if estimate > 0 else 1.0
            step = max(1, int(size / max(density, 1e-9)))
            bounds = list(range(low + step, high + 1, step))
            chunks, previous = [], None
            for index, bound in enumerate(bounds):
                chunks.append(Chunk(table, index, previous, (bound,)))
                previous = (bound,)
            chunks.append(Chunk(table, len(bounds), previous, None))
            return chunks
        chunks = []
        low_key: tuple[Any, ...] | None = None
        while True:
            self.throttle.before_source_query()
            high_key = self.source.key_at_offset(self.mapping.source, self.key, Chunk(table, 0, low_key, None), size)
            chunks.append(Chunk(table, len(chunks), low_key, high_key))
            if high_key is None:
                return chunks
            low_key = high_key

    def sample(self, chunks: Sequence[Chunk], seed: int) -> list[Chunk]:
        """The chunks a sample-mode run compares: sample_percent of them, chosen by seed, at least one."""
        if self.options.mode != "sample" or not chunks:
            return list(chunks)
        wanted = max(1, math.ceil(len(chunks) * self.options.sample_percent / 100))
        picked = sorted(random.Random(seed).sample(range(len(chunks)), min(wanted, len(chunks))))
        return [chunks[i] for i in picked]

    # -- comparing -----------------------------------------------------------------------------------

    def _target_chunk(self, chunk: Chunk) -> Chunk:
        return Chunk(self.mapping.target, chunk.index, chunk.low, chunk.high)

    def compare_chunk(self, chunk: Chunk) -> ChunkOutcome:
        self.prepare()
        src, dst = self.mapping.source, self.mapping.target
        if self.options.mode == "count":
            sn, tn = self._both(lambda: self._source_count(chunk),
                                lambda: self.target.count(dst, self.target_key, chunk))
            self.throttle.rows_read(sn)
            return ChunkOutcome(chunk, sn, tn, [], "count")
        if not self.use_sql:
            differences, sn, tn = self._rows_diff(chunk)
            return ChunkOutcome(chunk, sn, tn, differences, "rows")
        if self.use_digest:
            sd, td = self._both(lambda: self.source.digest(src, self.source_text, self.key, chunk),
                                lambda: self.target.digest(dst, self.target_text, self.target_key, chunk))
            if sd is not None and td is not None:  # else too large for a digest: per-row sums below
                self.throttle.rows_read(sd[0])
                if sd == td:
                    return ChunkOutcome(chunk, sd[0], td[0], [], "sql")
                return ChunkOutcome(chunk, sd[0], td[0], self._drill(chunk, sd[0], td[0]), "sql")
        (sn, ss), (tn, ts) = self._both(
            lambda: self.source.checksum(src, self.source_exprs, self.key, chunk),
            lambda: self.target.checksum(dst, self.target_exprs, self.target_key, chunk))
        self.throttle.rows_read(sn)
        if (sn, ss) == (tn, ts):
            return ChunkOutcome(chunk, sn, tn, [], "sql")
        return ChunkOutcome(chunk, sn, tn, self._drill(chunk, sn, tn), "sql")

    def _source_count(self, chunk: Chunk) -> int:
        """Rows of the range expected at the target: with the task's filter, read and filtered here."""
        if self.mapped is None or self.mapped.plan.rules.filter is None:
            return self.source.count(self.mapping.source, self.key, chunk)
        rows = self.source.read_range(self.mapping.source, self.source_columns, self.key, chunk)
        return sum(1 for row in rows if self.mapped.plan.passes(row))

    def _checksums(self, chunk: Chunk) -> tuple[tuple[int, int], tuple[int, int]]:
        src, dst = self.mapping.source, self.mapping.target
        return self._both(lambda: self.source.checksum(src, self.source_exprs, self.key, chunk),
                          lambda: self.target.checksum(dst, self.target_exprs, self.target_key, chunk))

    def _drill(self, chunk: Chunk, source_rows: int, target_rows: int) -> list[Difference]:
        """Differences inside a range whose checksums differ."""
        if max(source_rows, target_rows) <= self.options.leaf_rows:
            return self._rows_diff(chunk)[0]
        if self.int_key:
            return self._drill_buckets(chunk, source_rows, target_rows)
        return self._drill_bisect(chunk, source_rows, target_rows)

    def _drill_buckets(self, chunk: Chunk, source_rows: int, target_rows: int) -> list[Difference]:
        src, dst, column, target_name = self.mapping.source, self.mapping.target, self.key[0], self.target_key[0]
        low = int(chunk.low[0]) if chunk.low is not None else None
        high = int(chunk.high[0]) if chunk.high is not None else None
        if low is None or high is None:
            (smin, smax), (tmin, tmax) = self._both(lambda: self.source.min_max(src, column, chunk),
                                                    lambda: self.target.min_max(dst, target_name, chunk))
            if low is None:
                low = min(int(v) for v in (smin, tmin) if v is not None)
            if high is None:
                high = max(int(v) for v in (smax, tmax) if v is not None) + 1
        parts = max(2, min(self.options.fanout, math.ceil(max(source_rows, target_rows) / self.options.leaf_rows)))
        step = max(1, math.ceil((high - low) / parts))
        if step == 1 and high - low <= 1:
            return self._rows_diff(chunk)[0]
        source_column = self.source_schema.column(column)
        target_column = self.target_schema.column(target_name)
        sb, tb = self._both(
            lambda: self.source.bucket_checksums(src, self.source_exprs, source_column, chunk, low, step),
            lambda: self.target.bucket_checksums(dst, self.target_exprs, target_column, chunk, low, step))
        self.throttle.rows_read(source_rows)
        differences: list[Difference] = []
        leaves: list[Chunk] = []
        for bucket in sorted(set(sb) | set(tb)):
            if sb.get(bucket) == tb.get(bucket):
                continue
            sub_low = low + bucket * step
            sub_high = sub_low + step
            if chunk.high is not None:
                sub_high = min(sub_high, int(chunk.high[0]))
            sub = Chunk(chunk.table, chunk.index, (sub_low,), (sub_high,))
            rows = (sb.get(bucket, (0, 0))[0], tb.get(bucket, (0, 0))[0])
            if max(rows) <= self.options.leaf_rows or step == 1:
                leaves.append(sub)
            else:
                differences += self._drill(sub, *rows)
        return differences + self._rows_diff_many(leaves)

    def _drill_bisect(self, chunk: Chunk, source_rows: int, target_rows: int) -> list[Difference]:
        src, dst = self.mapping.source, self.mapping.target
        if not self.same_order:
            return self._rows_diff(chunk)[0]
        if source_rows:
            middle = self.source.key_at_offset(src, self.key, chunk, source_rows // 2)
        else:
            middle = self.target.key_at_offset(dst, self.target_key, self._target_chunk(chunk), target_rows // 2)
        if middle is None or middle in (chunk.low, chunk.high):
            return self._rows_diff(chunk)[0]
        halves = [Chunk(chunk.table, chunk.index, chunk.low, middle),
                  Chunk(chunk.table, chunk.index, middle, chunk.high)]
        sums = [self._checksums(half) for half in halves]
        self.throttle.rows_read(source_rows)
        if any((s[0] >= source_rows and t[0] >= target_rows) or s[0] > source_rows or t[0] > target_rows
               for s, t in sums):
            # No progress: the sides order these keys differently (collations), so a half holds other
            # rows on each side. Compare the rows; reconcile() pairs keys found in different ranges.
            return self._rows_diff(chunk)[0]
        differences: list[Difference] = []
        for half, (s, t) in zip(halves, sums, strict=True):
            if s != t:
                differences += self._drill(half, s[0], t[0])
        return differences

    # -- rows ----------------------------------------------------------------------------------------

    def _rows_diff(self, chunk: Chunk) -> tuple[list[Difference], int, int]:
        src, dst = self.mapping.source, self.mapping.target
        source_rows, target_rows = self._both(
            lambda: self.source.read_range(src, self.source_columns, self.key, chunk),
            lambda: self.target.read_range(dst, self.target_columns, self.target_key, chunk))
        self.throttle.rows_read(len(source_rows))
        return self.classify(source_rows, target_rows), len(source_rows), len(target_rows)

    def _rows_diff_many(self, chunks: list[Chunk]) -> list[Difference]:
        """Rows of many small ranges, LEAF_BATCH ranges per query per side."""
        src, dst = self.mapping.source, self.mapping.target
        differences: list[Difference] = []
        for start in range(0, len(chunks), LEAF_BATCH):
            part = chunks[start:start + LEAF_BATCH]
            source_rows, target_rows = self._both(
                functools.partial(self.source.read_ranges, src, self.source_columns, self.key, part),
                functools.partial(self.target.read_ranges, dst, self.target_columns, self.target_key, part))
            self.throttle.rows_read(len(source_rows))
            differences += self.classify(source_rows, target_rows)
        return differences

    def _canonical(self, rows: Iterable[Sequence[Any]], *, transform: bool) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        out: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for row in rows:
            if transform and self.mapped is not None:
                expected = self.mapped.expected(tuple(row))
                if expected is None:
                    continue  # the task's filter leaves it out: not expected at the target
                row = expected
            values = self.normalise(row)
            out[tuple(values[i] for i in self.key_indexes)] = values
        return out

    def classify(self, source_rows: Iterable[Sequence[Any]], target_rows: Iterable[Sequence[Any]],
                 keys: Iterable[tuple[Any, ...]] | None = None) -> list[Difference]:
        source = self._canonical(source_rows, transform=True)
        target = self._canonical(target_rows, transform=False)
        wanted = list(keys) if keys is not None else list(source) + [k for k in target if k not in source]
        tolerance = self.options.float_tolerance
        differences: list[Difference] = []
        for key in wanted:
            s, t = source.get(key), target.get(key)
            if s is None and t is None:
                continue
            if t is None:
                differences.append(Difference(key, MISSING, (), s, None))
            elif s is None:
                differences.append(Difference(key, EXTRA, (), None, t))
            else:
                columns = tuple(name for name, a, b in zip(self.names, s, t, strict=True)
                                if not same_value(a, b, tolerance))
                if columns:
                    differences.append(Difference(key, DIFFERENT, columns, s, t))
        return differences

    def check_keys(self, keys: Sequence[tuple[Any, ...]]) -> list[Difference]:
        """Read the keys again on both sides and classify them: a re-check or a re-verify."""
        self.prepare()
        if not keys:
            return []
        keys = list(dict.fromkeys(tuple(k) for k in keys))
        source_rows, target_rows = self._both(
            lambda: self.source.read_keys(self.mapping.source, self.source_columns, self.key, keys),
            lambda: self.target.read_keys(self.mapping.target, self.target_columns, self.target_key, keys))
        return self.classify(source_rows, target_rows, keys=[self.canonical_key(k) for k in keys])

    def canonical_key(self, key: tuple[Any, ...]) -> tuple[Any, ...]:
        """A key as differences carry it (normalised by the key columns' types)."""
        row: list[Any] = [None] * len(self.names)
        for i, value in zip(self.key_indexes, key, strict=True):
            row[i] = value
        values = self.normalise(row)
        return tuple(values[i] for i in self.key_indexes)

    def reconcile(self, differences: list[Difference]) -> list[Difference]:
        """A key reported missing in one range and extra in another (collations that order string keys
        differently put it in different ranges on each side) is one row: compare it once more by key."""
        missing = {d.key for d in differences if d.kind == MISSING}
        paired = {d.key for d in differences if d.kind == EXTRA and d.key in missing}
        if not paired:
            return differences
        kept = [d for d in differences if d.key not in paired]
        return kept + self.check_keys(sorted(paired, key=repr))

    # -- presentation --------------------------------------------------------------------------------

    def key_json(self, key: tuple[Any, ...]) -> dict[str, Any]:
        self.prepare()
        return {name: display_value(value) for name, value in zip(self.target_key, key, strict=True)}

    def row_json(self, row: tuple[Any, ...] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        self.prepare()
        return {name: display_value(value) for name, value in zip(self.names, row, strict=True)}


def display_value(value: Any) -> Any:
    """A canonical value as people read it in JSON: decimals as exact text, times in ISO 8601, bytes as hex."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "0x" + bytes(value).hex()
    return value_to_json(value)


def recheck(compare: TableCompare, differences: list[Difference], settle: Callable[[], None],
            rounds: int = 3) -> list[Difference]:
    """Lag-aware: keep only the differences that persist once the task has applied what the source had.

    Each round waits (settle) until the sync task's checkpoint has passed the source's head as of the
    call, then reads the still-differing keys again on both sides. A difference caused by a change in
    flight disappears; a real one is still there after every round.
    """
    current = differences
    for _ in range(rounds):
        if not current:
            break
        settle()
        current = compare.check_keys([d.key for d in current])
    return current
