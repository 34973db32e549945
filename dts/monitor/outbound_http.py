"""POSTing a webhook with the standard library: bounded wait, no redirects, errors as DeliveryError."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from dts.monitor.errors import DeliveryError

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "dts-alerts/1"


@dataclass(frozen=True)
class OutboundRequest:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would silently become a GET without the alert: treat it as a failure instead.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def check_url(url: str) -> None:
    """Only http(s) to a host: urllib would also open file:// and ftp:// addresses."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the address must be an http:// or https:// URL with a host")


def post(request: OutboundRequest, timeout: float) -> HttpResponse:
    """One POST. 2xx returns; anything else raises DeliveryError, retryable unless the receiver refused it."""
    try:
        check_url(request.url)
    except ValueError as exc:
        raise DeliveryError(str(exc), retryable=False) from None
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT} | request.headers
    outgoing = urllib.request.Request(request.url, data=request.body, headers=headers,  # noqa: S310
                                      method="POST")  # (the scheme is checked above)
    try:
        with _opener.open(outgoing, timeout=timeout) as response:
            return HttpResponse(response.status, response.read(MAX_RESPONSE_BYTES))
    except urllib.error.HTTPError as exc:
        body = exc.read(MAX_RESPONSE_BYTES) if exc.fp is not None else b""
        # 408 and 429 are "later, please"; other 4xx and redirects (bad address or token) will not heal.
        retryable = exc.code >= 500 or exc.code in (408, 429)
        snippet = body[:300].decode(errors="replace").strip()
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}" + (f": {snippet}" if snippet else ""),
                            http_status=exc.code, retryable=retryable) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"cannot reach the receiver: {exc.reason}") from None
    except TimeoutError:
        raise DeliveryError(f"no answer within {timeout:g}s") from None
    except OSError as exc:
        raise DeliveryError(f"connection failed: {exc.strerror or exc}") from None
