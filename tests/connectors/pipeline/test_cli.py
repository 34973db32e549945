"""`python -m connectors validate|check|run spec.json` as a user runs it: a subprocess in the repository."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from connectors.mysql.position import BinlogPosition
from connectors.registry import connector_for
from connectors.spec import TaskSpec
from dts.localservers import MariaDBServer
from tests.connectors.mysql.conftest import Sql
from tests.connectors.pipeline.conftest import PgTarget, assert_same_rows, binlog_head, fill, spec_json

REPOSITORY = Path(__file__).resolve().parents[3]


def cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connectors", *args], cwd=REPOSITORY, capture_output=True,
                          text=True, timeout=timeout, check=False)


def write_spec(path: Path, data: dict[str, Any]) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_validate_prints_the_normalised_spec_without_passwords(tmp_path: Path) -> None:
    spec = {"name": "orders",
            "source": {"engine": "mysql", "host": "10.0.0.5", "user": "dts", "password": "src-Secret-1"},
            "target": {"engine": "postgresql", "host": "10.0.0.6", "user": "dts", "password": "dst-Secret-2",
                       "database": "analytics"},
            "mode": "full", "tables": ["shop.orders", {"source": "shop.items", "target": "sales.items"}],
            "options": {"parallelism": 4}}
    result = cli("validate", write_spec(tmp_path / "spec.json", spec))
    assert result.returncode == 0, result.stderr
    assert "Secret" not in result.stdout and "Secret" not in result.stderr
    printed = json.loads(result.stdout)
    assert "password" not in printed["source"] and "password" not in printed["target"]
    assert printed["source"]["port"] == 3306 and printed["target"]["port"] == 5432  # defaults filled in
    assert printed["tables"] == [{"source": "shop.orders", "target": "shop.orders"},
                                 {"source": "shop.items", "target": "sales.items"}]
    assert printed["options"]["parallelism"] == 4 and printed["options"]["batch_size"] == 5000
    assert printed["mode"] == "full"


def test_an_invalid_spec_exits_2_and_lists_every_problem_with_its_path(tmp_path: Path) -> None:
    spec = {"source": {"engine": "mysql"}, "target": "postgres://somewhere", "mode": "mirror",
            "tables": ["no_database", {"target": "x.y"}],
            "options": {"batch_size": 0, "ddl_policy": "maybe", "colour": "blue", "start_position": "yesterday"}}
    result = cli("validate", write_spec(tmp_path / "spec.json", spec))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "error: invalid task spec:"
    reported = [line.strip().split(": ", 1)[0] for line in lines[1:]]  # one problem per line, path first
    assert sorted(reported) == sorted(["source.host", "target", "mode", "tables[0]", "tables[1]",
                                       "options.batch_size", "options.ddl_policy", "options.colour",
                                       "options.start_position"]), result.stderr
    assert "Traceback" not in result.stderr

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = cli("validate", str(broken))
    assert result.returncode == 2 and "cannot read the spec" in result.stderr and "Traceback" not in result.stderr


def test_run_full_mode_completes_and_saves_its_state(
        src: Sql, pg_target: PgTarget, mariadb: MariaDBServer, mysql_db: str, tmp_path: Path) -> None:
    fill(src, "items", 1200)
    spec = write_spec(tmp_path / "spec.json",
                      spec_json(mariadb, mysql_db, pg_target, ["items"], "full", chunk_size=500))
    state = tmp_path / "s.json"
    result = cli("run", spec, "--state", str(state))
    assert result.returncode == 0, result.stderr
    assert "completed" in result.stderr and "PHASE   snapshot" in result.stderr
    assert json.loads(state.read_text())["phase"] == "completed"
    assert_same_rows(src, pg_target, "items")


class StreamProcess:
    """`python -m connectors run spec --state s.json` on a streaming task, stopped with Ctrl-C (SIGINT)."""

    def __init__(self, spec: str, state: Path) -> None:
        self.state = state
        self.process = subprocess.Popen([sys.executable, "-m", "connectors", "run", spec, "--state", str(state)],
                                        cwd=REPOSITORY, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        assert self.process.stderr is not None
        for line in self.process.stderr:  # progress goes to stderr
            if "PHASE   stream" in line:
                break
        else:
            raise AssertionError(f"the task never reached the stream (exit {self.process.wait(30)})")

    def saved(self) -> dict[str, Any]:
        return json.loads(self.state.read_text())  # type: ignore[no-any-return]

    def wait_caught_up(self, head: BinlogPosition) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            position = self.saved().get("position")
            if position and not BinlogPosition.from_json(position) < head:
                return
            assert self.process.poll() is None, f"the task ended: exit {self.process.returncode}"
            time.sleep(0.1)
        raise AssertionError(f"the state never reached {head}: {self.saved()}")

    def interrupt(self) -> str:
        """Ctrl-C; the rest of stderr. The process must end by itself with exit status 0."""
        assert self.process.stderr is not None
        try:
            self.process.send_signal(signal.SIGINT)
            rest = self.process.stderr.read()
            assert self.process.wait(30) == 0, rest
            return rest
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)


def test_run_stops_a_stream_on_sigint_and_resumes_from_its_state(
        src: Sql, pg_target: PgTarget, mariadb: MariaDBServer, mysql_db: str, tmp_path: Path) -> None:
    fill(src, "items", 10)
    spec = write_spec(tmp_path / "spec.json", spec_json(mariadb, mysql_db, pg_target, ["items"], "full+incremental"))
    state = tmp_path / "s.json"
    first = StreamProcess(spec, state)
    fill(src, "items", 5, start=11)
    first.wait_caught_up(binlog_head(mariadb))
    rest = first.interrupt()
    assert "stopping" in rest and "stopped; state in" in rest and "Traceback" not in rest
    stopped_at = BinlogPosition.from_json(first.saved()["position"])
    assert first.saved()["phase"] == "stream"

    fill(src, "items", 5, start=16)  # while no task runs
    second = StreamProcess(spec, state)
    second.wait_caught_up(binlog_head(mariadb))
    assert stopped_at < BinlogPosition.from_json(second.saved()["position"])
    assert "Traceback" not in second.interrupt()
    assert_same_rows(src, pg_target, "items")
    assert pg_target.count("items") == 20


def test_check_prints_each_check_item(src: Sql, pg_target: PgTarget, mariadb: MariaDBServer, mysql_db: str,
                                      tmp_path: Path) -> None:
    fill(src, "items", 1)
    data = spec_json(mariadb, mysql_db, pg_target, ["items"], "full+incremental")
    result = cli("check", write_spec(tmp_path / "spec.json", data))
    spec = TaskSpec.from_json(data)
    failed = False
    for role, config in (("source", spec.source), ("target", spec.target)):
        report = connector_for(config).check()
        assert f"{role} {config}: " in result.stdout
        for item in report.items:
            assert f"] {item.title}: " in result.stdout, f"{role} item {item.name} is not printed"
        failed = failed or not report.ok
    assert result.returncode == (1 if failed else 0), result.stdout + result.stderr
