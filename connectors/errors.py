"""Errors the data plane raises. Each message says what is wrong and how to fix it."""


class ConnectorError(Exception):
    """Base for every data-plane error a user can act on."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} (fix: {self.hint})" if self.hint else base


class ConnectionFailed(ConnectorError):
    """Host unreachable, wrong credentials, unknown database."""


class UnknownEngine(ConnectorError):
    """No connector is registered for the engine name."""
