"""What a compare run may be told: mode, chunking, throttling, float tolerance. Validated with field paths."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from connectors.errors import ConnectorError
from connectors.spec import ZERO_DATE_POLICIES

from .normalise import DEFAULT_FLOAT_TOLERANCE

MODES = ("full", "sample", "count")


class CompareOptionsError(ConnectorError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("invalid compare options: " + "; ".join(f"{p}: {m}" for p, m in problems),
                         hint="fix the named fields")


@dataclass(frozen=True)
class CompareOptions:
    mode: str = "full"  # full: every row; sample: sample_percent of the chunks; count: row counts only
    sample_percent: float = 10.0
    chunk_size: int = 100_000  # rows per primary-key chunk (one checksum query per side)
    rate_limit_rows: int = 0  # rows per second read from the source; 0 = unlimited
    max_source_threads_running: int = 0  # pause while the source is busier than this; 0 = never
    float_tolerance: float = DEFAULT_FLOAT_TOLERANCE  # relative, see normalise.same_value
    zero_date_policy: str = "null"  # the sync task's: what MySQL zero dates became at the target
    leaf_rows: int = 64  # at or below this many rows, a differing range is compared row by row
    fanout: int = 4096  # at most this many parts per drill-down step (one GROUP BY scan per side)
    load_pause_seconds: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CompareOptions:
        data = dict(data or {})
        problems: list[tuple[str, str]] = []
        known = {f.name for f in fields(cls)}
        for name in sorted(set(data) - known):
            problems.append((f"options.{name}", f"unknown option; known: {', '.join(sorted(known))}"))
        values = {k: v for k, v in data.items() if k in known and v is not None}
        if "mode" in values and values["mode"] not in MODES:
            problems.append(("mode", f"must be one of {', '.join(MODES)}, not {values['mode']!r}"))
        for name in ("chunk_size", "leaf_rows", "fanout"):
            if name in values and (not isinstance(values[name], int) or isinstance(values[name], bool)
                                   or values[name] < (2 if name == "fanout" else 1)):
                minimum = " ≥ 2" if name == "fanout" else ""
                problems.append((f"options.{name}", f"must be a positive integer{minimum}"))
        for name in ("rate_limit_rows", "max_source_threads_running"):
            if name in values and (not isinstance(values[name], int) or isinstance(values[name], bool)
                                   or values[name] < 0):
                problems.append((f"options.{name}", "must be an integer ≥ 0 (0 = no limit)"))
        if "sample_percent" in values and (not isinstance(values["sample_percent"], (int, float))
                                           or not 0 < values["sample_percent"] <= 100):
            problems.append(("sample_percent", "must be a number above 0 and at most 100"))
        for name in ("float_tolerance", "load_pause_seconds"):
            if name in values and (not isinstance(values[name], (int, float)) or values[name] < 0):
                problems.append((f"options.{name}", "must be a number ≥ 0"))
        if "zero_date_policy" in values and values["zero_date_policy"] not in ZERO_DATE_POLICIES:
            problems.append(("options.zero_date_policy", f"must be one of {', '.join(ZERO_DATE_POLICIES)}"))
        if problems:
            raise CompareOptionsError(problems)
        return cls(**values)
