"""DDL review (ddl_policy 'review'): a table whose structure changed pauses until an operator decides.

On a DDL event the stream stops taking that table's changes, the DDL and the statement the
sink would run for it wait in an inbox, and every other table streams on. The paused table
keeps its place in the log as the DDL's position. On a decision (apply, possibly with an
edited statement, or ignore) the stream restarts from the earlier of its checkpoint and that
position: the paused table's changes since the DDL are read again, and the other tables only
replay changes they already hold (harmless: invariant 2).

State kept in the task's checkpoint (so a resume keeps tables paused):
    "review":   {"db.t": {"position": …, "ddl": "…", "target": "db.t"}}   tables waiting
    "reviewed": {"db.t": position}   the last decided DDL per table, not asked again on a replay
    "review_fit": ["db.t"]           tables whose DDL was ignored: rows are cut to the target's columns
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, Protocol

from connectors.base import Sink
from connectors.errors import ConnectorError
from connectors.events import ChangeEvent, Position
from connectors.types import TableId

APPLY = "apply"
IGNORE = "ignore"


@dataclasses.dataclass(frozen=True)
class DdlDecision:
    action: str  # APPLY or IGNORE
    statement: str = ""  # for APPLY: what to run at the target (the translated statement, maybe edited)


class DdlInbox(Protocol):
    """Where DDL waits for a decision: the control plane's inbox, or MemoryDdlInbox in tests and the CLI."""

    def submit(self, table: TableId, target: TableId, ddl: str, statement: str, position: dict[str, Any],
               error: str = "") -> None: ...

    def decision(self, table: TableId, position: dict[str, Any]) -> DdlDecision | None: ...

    def done(self, table: TableId, position: dict[str, Any], error: str = "") -> None: ...


class TableResumed(Exception):
    """A paused table's DDL was decided: the stream restarts from `position` so its changes are read again."""

    def __init__(self, table: TableId, position: dict[str, Any], ignored: bool) -> None:
        super().__init__(f"{table} resumed after its DDL review")
        self.table = table
        self.position = position
        self.ignored = ignored


class MemoryDdlInbox:
    """An in-process inbox (tests, CLI runs): items keyed by table and position."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(table: TableId, position: dict[str, Any]) -> tuple[str, str]:
        return str(table), repr(sorted(position.items()))

    def submit(self, table: TableId, target: TableId, ddl: str, statement: str, position: dict[str, Any],
               error: str = "") -> None:
        with self._lock:
            self.items.setdefault(self._key(table, position), {
                "table": str(table), "target": str(target), "ddl": ddl, "statement": statement,
                "position": position, "status": "pending", "decision": None, "error": error})

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self.items.values() if item["status"] == "pending"]

    def decide(self, table: str, action: str, statement: str | None = None) -> None:
        with self._lock:
            for item in self.items.values():
                if item["table"] == table and item["status"] in ("pending", "failed"):
                    item["decision"] = DdlDecision(action, statement if statement is not None else item["statement"])
                    item["status"] = "decided"
                    return
        raise KeyError(f"no DDL of {table} waits for a decision")

    def decision(self, table: TableId, position: dict[str, Any]) -> DdlDecision | None:
        with self._lock:
            item = self.items.get(self._key(table, position))
            return item["decision"] if item is not None and item["status"] == "decided" else None

    def done(self, table: TableId, position: dict[str, Any], error: str = "") -> None:
        with self._lock:
            item = self.items[self._key(table, position)]
            decision = item["decision"]
            item["status"] = "failed" if error else ("applied" if decision.action == APPLY else "ignored")
            item["error"] = error


class Reviews:
    """The review part of a task's state, shared by the stream's reader and writer threads."""

    def __init__(self, state: dict[str, Any], lock: threading.RLock, inbox: DdlInbox,
                 position_from_json: Callable[[dict[str, Any]], Position]) -> None:
        self.state = state
        self.lock = lock
        self.inbox = inbox
        self.position_from_json = position_from_json
        with lock:
            # Read once per stream run: the reader pauses tables, the writer resumes them by ending the run.
            self.paused = {TableId.parse(name) for name in state.get("review", {})}
            self.fit = {TableId.parse(name) for name in state.get("review_fit", [])}

    def decided_before(self, event: ChangeEvent) -> bool:
        """True for a DDL already decided (read again after a restart from an earlier position)."""
        assert event.table is not None
        with self.lock:
            seen = self.state.get("reviewed", {}).get(str(event.table))
        # Decided: the event is at or before the last decided DDL's position.
        return seen is not None and event.position is not None and not self.position_from_json(seen) < event.position

    def pause(self, table: TableId) -> None:
        """Reader thread: from this DDL on, the table's changes are not taken."""
        self.paused.add(table)

    def hold(self, event: ChangeEvent, target: TableId, statement: str, error: str = "") -> None:
        """Writer thread: record the wait in the state (saved with the DDL's position) and ask the inbox."""
        assert event.table is not None and event.position is not None
        position = event.position.to_json()
        with self.lock:
            self.state.setdefault("review", {})[str(event.table)] = {
                "position": position, "ddl": event.ddl, "target": str(target)}
        self.inbox.submit(event.table, target, event.ddl or "", statement, position, error)

    def waiting(self) -> list[tuple[TableId, dict[str, Any]]]:
        with self.lock:
            return [(TableId.parse(name), entry) for name, entry in self.state.get("review", {}).items()]

    def resume(self, table: TableId, position: dict[str, Any], ignored: bool) -> None:
        with self.lock:
            self.state.get("review", {}).pop(str(table), None)
            self.state.setdefault("reviewed", {})[str(table)] = position
            if ignored and str(table) not in self.state.setdefault("review_fit", []):
                self.state["review_fit"].append(str(table))


# -- translating and running target statements ----------------------------------------------------------

def target_statement(sink: Sink, event: ChangeEvent, target: TableId) -> str:
    """The statements the sink would run for a DDL event at target, as text for an operator to read or edit."""
    engine = sink.engine
    ops = sink.plan_ddl(event, target)  # type: ignore[attr-defined]
    statements: list[str] = []
    if engine == "postgresql":
        from connectors.postgresql import ddl as pg_ddl

        conn = sink.connection()  # type: ignore[attr-defined]
        for op in ops:
            statements += [s.as_string(conn) for s in pg_ddl.render(op, sink._primary_key_name)]  # type: ignore[attr-defined]
    elif engine == "mysql":
        from connectors.mysql import ddl as my_ddl
        from connectors.mysql.sink import literal

        if event.schema is None:
            return "; ".join(str(op) for op in ops)
        mapper = sink._mapper(event.schema)  # type: ignore[attr-defined]
        for op in ops:
            statements += my_ddl.render(op, mapper, collation=sink.collation,  # type: ignore[attr-defined]
                                        has_primary_key=sink._has_primary_key, literal=literal)  # type: ignore[attr-defined]
    else:
        raise ConnectorError(f"the {engine} sink cannot show DDL statements for review",
                             hint="use ddl_policy 'apply', 'ignore' or 'fail' for this target")
    return ";\n".join(statements)


def run_statement(sink: Sink, statement: str) -> None:
    """Run an approved (maybe edited) target statement; statements are separated by ';' + newline."""
    parts = [part.strip() for part in statement.split(";\n") if part.strip()]
    if sink.engine == "postgresql":
        conn = sink.connection()  # type: ignore[attr-defined]
        with conn.transaction():
            for part in parts:
                conn.execute(part.encode())
    elif sink.engine == "mysql":
        for part in parts:
            sink._execute(part)  # type: ignore[attr-defined]
    else:
        raise ConnectorError(f"the {sink.engine} sink cannot run reviewed DDL")
