"""WeCom (Enterprise WeChat) group robot: markdown. The robot's key is in its URL; there is no signing."""

from __future__ import annotations

from dts.monitor.channels.base import HttpChannel, json_body
from dts.monitor.message import AlertMessage
from dts.monitor.outbound_http import OutboundRequest

# WeCom markdown colours: "warning" is orange, "info" green, "comment" grey.
COLOURS = {"critical": "warning", "warning": "warning", "info": "comment"}


class WeComChannel(HttpChannel):
    kind = "wecom"
    error_code_keys = ("errcode",)

    def build(self, message: AlertMessage) -> OutboundRequest:
        colour = "info" if message.state == "resolved" else COLOURS.get(message.severity, "comment")
        lines = [f'<font color="{colour}">**{message.title}**</font>',
                 *(f"> {label}: {value}" for label, value in message.fields())]
        if message.detail:
            lines.append(message.detail)
        lines.append(f"[Open the task]({message.link})")
        payload = {"msgtype": "markdown", "markdown": {"content": "\n".join(lines)}}
        return OutboundRequest(self.url, json_body(payload))
