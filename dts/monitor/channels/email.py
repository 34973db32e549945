"""Email through Django's configured email backend (SMTP in production)."""

from __future__ import annotations

import smtplib
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email

from dts.monitor.channels.base import Channel
from dts.monitor.errors import DeliveryError
from dts.monitor.message import AlertMessage


class EmailChannel(Channel):
    kind = "email"
    needs_url = False

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        recipients = options.get("recipients")
        if not isinstance(recipients, list) or not recipients:
            raise ValueError('recipients must be a non-empty list of addresses, e.g. ["ops@example.com"]')
        for address in recipients:
            try:
                validate_email(address)
            except ValidationError:
                raise ValueError(f"{address!r} is not an email address") from None
        return options

    def send(self, message: AlertMessage, timeout: float) -> int | None:
        try:
            recipients = self.clean_options(self.options)["recipients"]
        except ValueError as exc:
            raise DeliveryError(str(exc), retryable=False) from None
        sender = self.options.get("from") or settings.DEFAULT_FROM_EMAIL
        try:
            connection = get_connection(timeout=timeout)
            EmailMessage(subject=message.title, body=message.text(), from_email=sender, to=recipients,
                         connection=connection).send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"the mail server refused the recipients: {exc.recipients}",
                                retryable=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"sending email failed: {exc}") from None
        return None
