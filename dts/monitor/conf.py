"""The monitor's own settings: Django settings when set there, else the environment, else a default.

Read on each use (not at import) so a test's settings override takes effect.
"""

from __future__ import annotations

import environ
from django.conf import settings

env = environ.Env()


def metrics_public() -> bool:
    """Whether /metrics answers without an API token (for a scraper on a trusted network)."""
    value = getattr(settings, "DTS_METRICS_PUBLIC", None)
    return bool(value) if value is not None else env.bool("DTS_METRICS_PUBLIC", default=False)


def failed_window_seconds() -> float:
    """How long after failing a task is still watched (task_failed alerts, last lag)."""
    value = getattr(settings, "DTS_MONITOR_FAILED_WINDOW_SECONDS", None)
    return float(value) if value is not None else env.float("DTS_MONITOR_FAILED_WINDOW_SECONDS", default=86400.0)


def head_timeout_seconds() -> float:
    """Connect and query timeout for reading a source's head: the monitor must not hang on one source."""
    value = getattr(settings, "DTS_MONITOR_HEAD_TIMEOUT_SECONDS", None)
    return float(value) if value is not None else env.float("DTS_MONITOR_HEAD_TIMEOUT_SECONDS", default=3.0)


def delivery_timeout_seconds() -> float:
    """Timeout of one alert delivery attempt (webhook POST or email)."""
    value = getattr(settings, "DTS_ALERT_DELIVERY_TIMEOUT_SECONDS", None)
    return float(value) if value is not None else env.float("DTS_ALERT_DELIVERY_TIMEOUT_SECONDS", default=10.0)


def quick_delivery_timeout_seconds() -> float:
    """The 'send test message' action answers synchronously, so it waits less."""
    return min(5.0, delivery_timeout_seconds())


def public_url() -> str:
    return str(getattr(settings, "DTS_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")
