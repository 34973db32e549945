"""The real platform for browser tests: daphne (HTTP + WebSocket) serving the built console, Celery
workers and beat, all on the test metadata database, Redis, MariaDB and PostgreSQL of tests/servers.py;
and headless Chromium (the system /usr/bin/chromium) driven by Playwright.

Screenshots go to .dts-state/e2e-artifacts/<test>/ (DTS_E2E_ARTIFACTS overrides); the path is printed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from dts.state import BASE_DIR
from dts.sync.models import SyncTask
from tests.dts.conftest import Personas, personas  # noqa: F401  (fixtures used by the journeys)
from tests.dts.monitor.conftest import QueueWorker, fresh_monitor_state, receiver, receivers  # noqa: F401
from tests.dts.sync.conftest import test_database_url

CHROMIUM = os.environ.get("DTS_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DIST = BASE_DIR / "frontend" / "dist"
PASSWORDS = {"olivia": "pw-olivia-123", "oscar": "pw-oscar-123", "vera": "pw-vera-123", "xander": "pw-xander-123"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _process_env(static_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return dict(env, DATABASE_URL=test_database_url(), REDIS_URL=settings.REDIS_URL,
                DTS_STATIC_ROOT=str(static_root), DTS_LEASE_TTL_SECONDS=str(settings.DTS_LEASE_TTL_SECONDS),
                PYTHONUNBUFFERED="1")


@pytest.fixture(scope="session")
def console_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built console collected as in production (WhiteNoise serves STATIC_ROOT)."""
    if not (DIST / "index.html").exists():
        pytest.fail("The console is not built: run `make test` (it builds frontend/), or "
                    "`cd frontend && npm ci && npm run build`.", pytrace=False)
    root = tmp_path_factory.mktemp("static")
    env = dict(os.environ, DTS_STATIC_ROOT=str(root))
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env,
                   check=True)
    return root


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)

    def log_tail(self) -> str:
        with open(self.log_path, errors="replace") as handle:
            return "".join(handle.readlines()[-40:])


@dataclass
class Platform:
    url: str
    web: Process
    beat: Process
    log_dir: Path
    workers: list[QueueWorker] = field(default_factory=list)

    def worker(self, queues: tuple[str, ...] = ("default", "stream", "snapshot", "compare")) -> QueueWorker:
        allowed = os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the test's own allowance, not the worker's
        try:
            worker = QueueWorker(str(self.log_dir / f"worker{len(self.workers)}.log"), list(queues))
        finally:
            if allowed is not None:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = allowed
        self.workers.append(worker)
        return worker

    def logs(self) -> str:
        parts = [f"--- web\n{self.web.log_tail()}", f"--- beat\n{self.beat.log_tail()}"]
        parts += [f"--- {w.log_path}\n{w.log_tail()}" for w in self.workers]
        return "\n".join(parts)


@pytest.fixture
def platform(transactional_db: None, console_static: Path, tmp_path: Path) -> Iterator[Platform]:
    """daphne + beat now; workers when the test asks (so it can kill one)."""
    env = _process_env(console_static)
    port = _free_port()
    web = Process([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "dts.asgi:application"], env,
                  tmp_path / "web.log")
    beat = Process([sys.executable, "-m", "celery", "-A", "dts", "beat", "-l", "INFO", "-s",
                    str(tmp_path / "beat-schedule")], env, tmp_path / "beat.log")
    running = Platform(f"http://127.0.0.1:{port}", web, beat, tmp_path)
    try:
        deadline = time.monotonic() + 60
        last_error: OSError | None = None
        while True:
            try:
                with urllib.request.urlopen(f"{running.url}/healthz", timeout=2) as answer:  # noqa: S310 (local)
                    if answer.status == 200:
                        break
            except OSError as exc:  # not listening yet
                last_error = exc
            if time.monotonic() > deadline or web.process.poll() is not None:
                raise AssertionError(f"daphne did not answer ({last_error!r})\n{web.log_tail()}")
            time.sleep(0.3)
        yield running
        SyncTask.objects.update(desired_state="stopped")  # runners stop within a second
        time.sleep(1.5)
    finally:  # whatever failed, no process outlives the test
        processes: list[QueueWorker | Process] = [*running.workers, beat, web]
        for process in processes:
            process.stop()


@pytest.fixture(autouse=True)
def _sync_orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    """Playwright's sync API runs an event loop in this thread while a browser is open; the test's own
    ORM calls are still plain synchronous code, so Django may allow them (for these tests only)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


class LazyBrowser:
    """Chromium, started at first use: until then the test may use the API in-process (its pushes call
    async_to_sync, which refuses to run while Playwright's event loop runs in the same thread)."""

    def __init__(self) -> None:
        self._playwright: Any = None
        self._browser: Any = None

    def get(self) -> Any:
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        return self._browser

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._playwright.stop()


@pytest.fixture
def browser() -> Iterator[LazyBrowser]:
    """Per test, so Playwright's event loop is gone before any other test runs."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium).",
                    pytrace=False)
    lazy = LazyBrowser()
    yield lazy
    lazy.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    root = Path(os.environ.get("DTS_E2E_ARTIFACTS", BASE_DIR / ".dts-state" / "e2e-artifacts"))
    path = root / request.node.name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    print(f"\nscreenshots: {path}")
    return path


@dataclass
class Console:
    """One signed-in browser context; `shot` saves a numbered full-page screenshot."""

    page: Any
    artifacts: Path
    counter: list[int]

    def shot(self, name: str) -> Path:
        self.counter[0] += 1
        path = self.artifacts / f"{self.counter[0]:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def sign_in(browser: LazyBrowser, platform: Platform, artifacts: Path) -> Iterator[Callable[[str], Console]]:
    contexts: list[Any] = []
    counter = [0]
    pages: list[tuple[str, Any]] = []
    browser_errors: list[str] = []

    def open_as(username: str) -> Console:
        context = browser.get().new_context(base_url=platform.url, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        pages.append((username, page))
        page.on("pageerror", lambda error: browser_errors.append(f"{username}: page error: {error}"))
        page.on("console", lambda msg: browser_errors.extend(
            [f"{username}: {msg.text}"] if msg.type == "error" else []))
        page.goto("/login")
        page.locator("#username").fill(username)
        page.locator("#password").fill(PASSWORDS[username])
        page.get_by_role("button", name="Sign in").click()
        dashboard = page.get_by_role("heading", name="Dashboard")
        dashboard.or_(page.get_by_text("No tasks in this workspace yet")).first.wait_for()
        return Console(page, artifacts, counter)

    yield open_as
    for username, page in pages:  # where each browser ended: the first thing to look at when a step failed
        page.screenshot(path=str(artifacts / f"zz-last-{username}.png"), full_page=True)
    if browser_errors:
        print("browser console errors:\n" + "\n".join(browser_errors[-30:]))
    for context in contexts:
        context.close()


def nav(page: Any, name: str) -> None:
    """Go to a page through the side menu."""
    page.get_by_role("menuitem", name=name).click()


def pick(page: Any, select_testid: str, option_text: str) -> None:
    """Choose an option of an antd Select (its list opens in a popup at the end of the body)."""
    page.get_by_test_id(select_testid).click()
    page.locator(".ant-select-dropdown:visible .ant-select-item-option", has_text=option_text).first.click()


def wait_until(condition: Callable[[], Any], timeout: float, what: str, diagnostics: Callable[[], str] = str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{diagnostics()}")
