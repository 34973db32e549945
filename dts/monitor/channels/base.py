"""The contract every alert channel kind fulfils, and the common path of those that POST JSON."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from dts.monitor.errors import DeliveryError
from dts.monitor.message import AlertMessage
from dts.monitor.outbound_http import HttpResponse, OutboundRequest, post


class Channel:
    """One kind of destination. Instances are short-lived: built per send from the stored channel."""

    kind: ClassVar[str]
    needs_url: ClassVar[bool] = True

    def __init__(self, url: str, secret: str, options: dict[str, Any]) -> None:
        self.url = url
        self.secret = secret
        self.options = options

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """Validate the kind's options; raise ValueError naming the problem."""
        return options

    def send(self, message: AlertMessage, timeout: float) -> int | None:
        """Deliver; return the HTTP status when there is one. Raises DeliveryError."""
        raise NotImplementedError


class HttpChannel(Channel):
    """A webhook: build the request (body, signature), POST it, then read the receiver's verdict."""

    # Keys of the JSON answer that carry a vendor's error code (robots answer 200 on errors too).
    error_code_keys: ClassVar[tuple[str, ...]] = ()

    def build(self, message: AlertMessage) -> OutboundRequest:
        raise NotImplementedError

    def send(self, message: AlertMessage, timeout: float) -> int | None:
        response = post(self.build(message), timeout)
        problem = vendor_error(response, self.error_code_keys)
        if problem is not None:
            raise DeliveryError(problem, http_status=response.status)
        return response.status


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def vendor_error(response: HttpResponse, code_keys: tuple[str, ...]) -> str | None:
    if not code_keys:
        return None
    try:
        data = json.loads(response.body or b"{}")
    except ValueError:
        return None  # not JSON: the HTTP status already said it was accepted
    if not isinstance(data, dict):
        return None
    for key in code_keys:
        code = data.get(key)
        if code not in (None, 0, "0"):
            text = data.get("msg") or data.get("errmsg") or data.get("StatusMessage") or ""
            return f"the receiver answered {key}={code}" + (f": {text}" if text else "")
    return None
