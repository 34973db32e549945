"""What the engine reports while it runs. The control plane stores it; the CLI prints it."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

from connectors.types import TableId


class Observer(Protocol):
    def log(self, level: str, message: str) -> None: ...

    def phase(self, name: str) -> None: ...

    def table_progress(self, table: TableId, rows_done: int, rows_estimate: int | None, chunks_done: int,
                       chunks_total: int) -> None: ...

    def applied(self, events: int, rows: int, position: dict[str, Any] | None, commit_time: float | None) -> None: ...

    def quarantined(self, table: TableId, key: Any, row: dict[str, Any], column: str | None, error: str,
                    position: dict[str, Any] | None) -> None: ...


class NullObserver:
    def log(self, level: str, message: str) -> None:
        pass

    def phase(self, name: str) -> None:
        pass

    def table_progress(self, table: TableId, rows_done: int, rows_estimate: int | None, chunks_done: int,
                       chunks_total: int) -> None:
        pass

    def applied(self, events: int, rows: int, position: dict[str, Any] | None, commit_time: float | None) -> None:
        pass

    def quarantined(self, table: TableId, key: Any, row: dict[str, Any], column: str | None, error: str,
                    position: dict[str, Any] | None) -> None:
        pass


class PrintObserver(NullObserver):
    """Human-readable progress on stderr for `python -m connectors run`."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self._last_applied = 0.0
        self._events = 0

    def _print(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=self.stream, flush=True)

    def log(self, level: str, message: str) -> None:
        self._print(f"{level.upper():7} {message}")

    def phase(self, name: str) -> None:
        self._print(f"PHASE   {name}")

    def table_progress(self, table: TableId, rows_done: int, rows_estimate: int | None, chunks_done: int,
                       chunks_total: int) -> None:
        total = f"/~{rows_estimate}" if rows_estimate else ""
        self._print(f"SNAPSHOT {table}: {rows_done}{total} rows, chunk {chunks_done}/{chunks_total}")

    def applied(self, events: int, rows: int, position: dict[str, Any] | None, commit_time: float | None) -> None:
        self._events += events
        now = time.monotonic()
        if now - self._last_applied >= 1.0:
            lag = f", lag {max(0.0, time.time() - commit_time):.1f}s" if commit_time else ""
            self._print(f"STREAM  {self._events} events applied, at {position}{lag}")
            self._last_applied = now

    def quarantined(self, table: TableId, key: Any, row: dict[str, Any], column: str | None, error: str,
                    position: dict[str, Any] | None) -> None:
        self._print(f"QUARANTINE {table} key={key} column={column}: {error}")
