"""`python -m connectors`: run a task spec from a JSON file, without the control plane.

    python -m connectors run spec.json [--state state.json]
    python -m connectors check spec.json
    python -m connectors validate spec.json

Progress goes to stderr. Ctrl-C stops a stream gracefully: the batch in flight is written and
its position saved, so running the same command again resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from connectors.errors import ConnectorError
from connectors.pipeline.checkpoint import FileCheckpointStore
from connectors.pipeline.observer import PrintObserver
from connectors.pipeline.task import TaskRunner
from connectors.registry import connector_for
from connectors.spec import SpecError, TaskSpec


def _load_spec(path: str) -> TaskSpec:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConnectorError(f"cannot read the spec {path}: {exc}") from None
    return TaskSpec.from_json(data)


def run(args: argparse.Namespace) -> int:
    spec = _load_spec(args.spec)
    state = args.state or str(Path(args.spec).with_suffix(".state.json"))
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        print("stopping: writing the batch in flight and saving the position…", file=sys.stderr)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    outcome = TaskRunner(spec, FileCheckpointStore(state), PrintObserver(), stop).run()
    print(f"{outcome}; state in {state}", file=sys.stderr)
    return 0


def check(args: argparse.Namespace) -> int:
    spec = _load_spec(args.spec)
    failed = False
    for role, config in (("source", spec.source), ("target", spec.target)):
        report = connector_for(config).check()
        print(f"{role} {config}: {report.status.value}")
        for item in report.items:
            line = f"  [{item.status.value:7}] {item.title}: {item.detail}"
            print(line + (f"\n            fix: {item.hint}" if item.hint else ""))
        failed = failed or not report.ok
    return 1 if failed else 0


def validate(args: argparse.Namespace) -> int:
    spec = _load_spec(args.spec)
    print(json.dumps(spec.to_json(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run a task spec")
    run_parser.add_argument("spec")
    run_parser.add_argument("--state", help="checkpoint file (default: <spec>.state.json)")
    run_parser.set_defaults(func=run)
    for name, func in (("check", check), ("validate", validate)):
        sub = commands.add_parser(name, help=f"{name} a task spec")
        sub.add_argument("spec")
        sub.set_defaults(func=func)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SpecError as exc:
        print("error: invalid task spec:", file=sys.stderr)
        for path, problem in exc.problems:
            print(f"  {path or '(spec)'}: {problem}", file=sys.stderr)
        return 2
    except ConnectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
