"""The error a failed alert send raises; the delivery records it and decides whether to retry."""

from __future__ import annotations


class DeliveryError(Exception):
    """A message did not reach the channel. Retryable unless retrying cannot help (a refused request)."""

    def __init__(self, message: str, *, http_status: int | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.retryable = retryable
