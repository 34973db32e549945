"""How a table is split into primary-key chunks, whatever the engine: the engines supply the queries.

Dense integer keys are cut by arithmetic (one min/max query, no scan); other keys are paged by
keyset (the key `chunk_size` rows past the previous bound, one index probe per chunk).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from connectors.base import Chunk
from connectors.types import TableId


def dense_int_chunks(table: TableId, low: Any, high: Any, estimate: Callable[[], int],
                     chunk_size: int) -> list[Chunk] | None:
    """Chunks of an integer key from its min and max, or None when the keys are too sparse for arithmetic.

    estimate() (the server's row estimate) is asked only when the table needs more than one chunk.
    """
    if low is None:
        return [Chunk(table, 0, None, None)]
    span = int(high) - int(low) + 1
    if span <= chunk_size:
        return [Chunk(table, 0, None, None)]
    density = estimate() / span
    if density < 0.5:  # sparse keys (or never analysed): arithmetic ranges would be very uneven
        return None
    step = max(1, int(chunk_size / min(density, 1.0)))
    bounds = list(range(int(low) + step, int(high) + 1, step))
    chunks = []
    previous: tuple[Any, ...] | None = None
    for index, bound in enumerate(bounds):
        chunks.append(Chunk(table, index, previous, (bound,)))
        previous = (bound,)
    chunks.append(Chunk(table, len(bounds), previous, None))
    return chunks


def keyset_chunks(table: TableId, next_bound: Callable[[tuple[Any, ...] | None], Sequence[Any] | None],
                  ) -> Iterator[Chunk]:
    """Chunks [low, high) where next_bound(low) is the key chunk_size rows on from low (None: the end)."""
    low: tuple[Any, ...] | None = None
    index = 0
    while True:
        found = next_bound(low)
        if found is None:
            yield Chunk(table, index, low, None)
            return
        high = tuple(found)
        yield Chunk(table, index, low, high)
        low = high
        index += 1



def row_compare_sql(columns: Sequence[str], op: str, values: Sequence[Any],
                    quote: Callable[[str], str]) -> tuple[str, list[Any]]:
    """(c1, c2, ...) op (v1, v2, ...) for op '>=', '>' or '<', as an OR chain an index range can use
    (MariaDB does not use row-value bounds for a range); %s placeholders, values as parameters."""
    if len(columns) == 1:
        return f"{quote(columns[0])} {op} %s", [values[0]]
    strict = "<" if op == "<" else ">"
    terms: list[str] = []
    params: list[Any] = []
    for i, column in enumerate(columns):
        parts = [f"{quote(c)} = %s" for c in columns[:i]]
        parts.append(f"{quote(column)} {op if i == len(columns) - 1 else strict} %s")
        terms.append("(" + " AND ".join(parts) + ")")
        params.extend(values[:i + 1])
    return "(" + " OR ".join(terms) + ")", params
