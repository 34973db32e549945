"""Login, logout and failed logins go to the audit log."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from dts.accounts.audit import client_ip, record


@receiver(user_logged_in)
def audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record("login", actor=user, obj=user, remote_addr=client_ip(request))


@receiver(user_logged_out)
def audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record("logout", actor=user, obj=user, remote_addr=client_ip(request))


@receiver(user_login_failed)
def audit_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # credentials is already scrubbed of the password by Django; keep only the user name.
    record("login_failed", object_repr=str(credentials.get("username", ""))[:150], remote_addr=client_ip(request))
