"""Alert channel kinds: one dict of dotted paths, imported only when a channel of that kind is used."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dts.monitor.channels.base import Channel
    from dts.monitor.models import AlertChannel

KINDS: dict[str, str] = {
    "webhook": "dts.monitor.channels.webhook.WebhookChannel",
    "feishu": "dts.monitor.channels.feishu.FeishuChannel",
    "dingtalk": "dts.monitor.channels.dingtalk.DingTalkChannel",
    "wecom": "dts.monitor.channels.wecom.WeComChannel",
    "slack": "dts.monitor.channels.slack.SlackChannel",
    "email": "dts.monitor.channels.email.EmailChannel",
}


def channel_class(kind: str) -> type[Channel]:
    try:
        dotted = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown alert channel kind {kind!r}; known: {', '.join(sorted(KINDS))}") from None
    module_name, class_name = dotted.rsplit(".", 1)
    return getattr(import_module(module_name), class_name)  # type: ignore[no-any-return]


def channel_for(channel: AlertChannel) -> Channel:
    """The sender for a stored channel; the only place its secret leaves the model."""
    return channel_class(channel.kind)(channel.url, channel.secret or "", dict(channel.options or {}))
