"""Generic JSON webhook: the alert as a stable JSON document, optionally signed with HMAC-SHA256."""

from __future__ import annotations

import time

from dts.monitor.channels.base import HttpChannel, json_body
from dts.monitor.message import AlertMessage
from dts.monitor.outbound_http import OutboundRequest
from dts.monitor.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, webhook_signature


class WebhookChannel(HttpChannel):
    kind = "webhook"

    def build(self, message: AlertMessage) -> OutboundRequest:
        body = json_body(message.as_dict())
        headers = {TIMESTAMP_HEADER: str(int(time.time()))}
        if self.secret:
            headers[SIGNATURE_HEADER] = webhook_signature(self.secret, body)
        return OutboundRequest(self.url, body, headers)
