"""Waiting briefly for a quick job so a client gets its result in one round trip (else 202 + poll)."""

from __future__ import annotations

import time
from typing import Any, Protocol

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

WAIT_PARAMETER = OpenApiParameter(
    "wait", float, description="Seconds to wait for the result before answering 202 with the job (0 = do not wait).")


class Job(Protocol):
    @property
    def done(self) -> bool: ...

    def refresh_from_db(self) -> None: ...


def wait_seconds(request: Request) -> float:
    try:
        wait = float(request.query_params.get("wait", settings.DTS_QUICK_JOB_WAIT_SECONDS))
    except ValueError:
        wait = settings.DTS_QUICK_JOB_WAIT_SECONDS
    return max(0.0, min(wait, 120.0))


def wait_for(job: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while not job.done and time.monotonic() < deadline:
        time.sleep(0.1)
        job.refresh_from_db()
    return job
