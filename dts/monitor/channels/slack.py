"""Slack incoming webhook: 'text' for notifications and old clients, 'blocks' for the layout."""

from __future__ import annotations

from typing import Any

from dts.monitor.channels.base import HttpChannel, json_body
from dts.monitor.message import AlertMessage
from dts.monitor.outbound_http import OutboundRequest

HEADER_LIMIT = 150  # Slack refuses a header block longer than this


class SlackChannel(HttpChannel):
    kind = "slack"

    def build(self, message: AlertMessage) -> OutboundRequest:
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": message.title[:HEADER_LIMIT]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{label}*\n{value}"}
                                           for label, value in message.fields()]},
        ]
        if message.detail:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": message.detail}})
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open the task"}, "url": message.link}]})
        payload = {"text": message.text(), "blocks": blocks}
        return OutboundRequest(self.url, json_body(payload))
