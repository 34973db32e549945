"""MongoDB connector: how to open a pymongo client from a ConnectionConfig and read its errors.

The checks (check.py) and discovery (catalog.py) share these; the Connector class lives in
connector.py. Credentials go to MongoClient as keyword arguments, never into a URI string, so
special characters need no quoting and the password cannot leak through a logged URI.
"""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient
from pymongo.errors import OperationFailure

from connectors.config import ConnectionConfig

# Server codes for a refused login: AuthenticationFailed, UserNotFound, MechanismUnavailable.
AUTH_FAILURE_CODES = frozenset({18, 11, 334})
UNAUTHORIZED = 13  # the user lacks a privilege (or the server wants a login)
SYSTEM_DATABASES = frozenset({"admin", "local", "config"})

MongoClientT = MongoClient[dict[str, Any]]


def open_client(config: ConnectionConfig, **overrides: Any) -> MongoClientT:
    """A client whose every wait is bounded by config.connect_timeout.

    config.options are MongoClient options (authSource, tls, replicaSet, directConnection, ...);
    an unknown or invalid one raises pymongo.errors.ConfigurationError here.
    """
    timeout_ms = max(int(config.connect_timeout * 1000), 1)
    kwargs: dict[str, Any] = {
        "serverSelectionTimeoutMS": timeout_ms,
        "connectTimeoutMS": timeout_ms,
        "appname": "dts",
        "uuidRepresentation": "standard",
    }
    if config.user:
        kwargs["username"] = config.user
        kwargs["password"] = config.password
    from connectors.mongodb.documents import DTS_OPTIONS  # the platform's own options are not MongoClient's

    kwargs.update({name: value for name, value in config.options.items() if name not in DTS_OPTIONS})
    kwargs.update(overrides)
    return MongoClient(config.host, config.port, **kwargs)


def is_auth_failure(exc: OperationFailure) -> bool:
    return exc.code in AUTH_FAILURE_CODES


def error_text(exc: BaseException, config: ConnectionConfig) -> str:
    """The driver's or server's message, shortened and with the password masked.

    Server-selection errors append a full topology dump after ', Timeout:'; the part before it
    says what went wrong.
    """
    if isinstance(exc, OperationFailure) and isinstance(exc.details, dict) and exc.details.get("errmsg"):
        text = str(exc.details["errmsg"])
    else:
        text = str(exc)
    text = text.split(", Timeout:", 1)[0].strip()
    if config.password:
        text = text.replace(config.password, "***")
    return text or type(exc).__name__


def address(config: ConnectionConfig) -> str:
    return f"{config.host}:{config.port}"
