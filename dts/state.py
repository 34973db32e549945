"""The local state dir: where a laptop install keeps its generated keys and SQLite database."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    path = Path(os.environ.get("DTS_STATE_DIR", BASE_DIR / ".dts-state"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def generated_value(name: str, make: Callable[[], str]) -> str:
    """Read a generated value from the state dir, creating it (mode 0600) the first time."""
    path = state_dir() / name
    if path.exists():
        return path.read_text().strip()
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value
