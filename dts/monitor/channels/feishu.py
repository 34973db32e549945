"""Feishu / Lark custom bot: an interactive card (or plain text), signed when the bot has a secret."""

from __future__ import annotations

import time
from typing import Any

from dts.monitor.channels.base import HttpChannel, json_body
from dts.monitor.message import AlertMessage
from dts.monitor.outbound_http import OutboundRequest
from dts.monitor.signing import feishu_sign

MSG_TYPES = ("interactive", "text")
# Card header colours by what the reader should feel at a glance.
TEMPLATES = {"critical": "red", "warning": "orange", "info": "blue"}


class FeishuChannel(HttpChannel):
    kind = "feishu"
    error_code_keys = ("code", "StatusCode")

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        msg_type = options.get("msg_type", "interactive")
        if msg_type not in MSG_TYPES:
            raise ValueError(f"msg_type must be one of {', '.join(MSG_TYPES)}")
        return options

    def build(self, message: AlertMessage) -> OutboundRequest:
        if self.options.get("msg_type", "interactive") == "text":
            payload: dict[str, Any] = {"msg_type": "text", "content": {"text": message.text()}}
        else:
            payload = {"msg_type": "interactive", "card": _card(message)}
        if self.secret:
            timestamp = int(time.time())  # seconds; Feishu refuses one more than an hour off
            payload = {"timestamp": str(timestamp), "sign": feishu_sign(self.secret, timestamp)} | payload
        return OutboundRequest(self.url, json_body(payload))


def _card(message: AlertMessage) -> dict[str, Any]:
    template = "green" if message.state == "resolved" else TEMPLATES.get(message.severity, "blue")
    fields = "\n".join(f"**{label}**: {value}" for label, value in message.fields())
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "lark_md", "content": fields}}]
    if message.detail:
        elements.append({"tag": "div", "text": {"tag": "lark_md", "content": message.detail}})
    elements.append({"tag": "action", "actions": [
        {"tag": "button", "text": {"tag": "plain_text", "content": "Open the task"}, "url": message.link,
         "type": "primary"}]})
    return {"config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": message.title}, "template": template},
            "elements": elements}
