"""DingTalk custom robot: markdown, signed in the query string when the robot has a secret."""

from __future__ import annotations

import time

from dts.monitor.channels.base import HttpChannel, json_body
from dts.monitor.message import AlertMessage
from dts.monitor.outbound_http import OutboundRequest
from dts.monitor.signing import dingtalk_sign


class DingTalkChannel(HttpChannel):
    kind = "dingtalk"
    error_code_keys = ("errcode",)

    def build(self, message: AlertMessage) -> OutboundRequest:
        payload = {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.markdown()}}
        url = self.url
        if self.secret:
            timestamp_ms = int(time.time() * 1000)  # milliseconds; DingTalk refuses one more than an hour off
            # dingtalk_sign is already URL-encoded, as the robot expects it in the query.
            sign = dingtalk_sign(self.secret, timestamp_ms)
            url += ("&" if "?" in url else "?") + f"timestamp={timestamp_ms}&sign={sign}"
        return OutboundRequest(url, json_body(payload))
