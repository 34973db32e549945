"""Request signatures: ours for generic webhooks, and the schemes Feishu and DingTalk robots verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

SIGNATURE_HEADER = "X-DTS-Signature"
TIMESTAMP_HEADER = "X-DTS-Timestamp"


def webhook_signature(secret: str, body: bytes) -> str:
    """'sha256=<hex>' of HMAC-SHA256 over the exact bytes sent, so a receiver verifies before parsing."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu/Lark custom bot: the key is 'timestamp\\nsecret', the message empty; base64 (timestamp in seconds)."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot: HMAC-SHA256 of 'timestamp\\nsecret' keyed by the secret, base64, URL-encoded (ms)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())
