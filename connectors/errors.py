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
    """Host unreachable, wrong credentials, unknown database.

    `stage` says which: "reachable" (refused, timed out, lost: retrying later can help) or
    "authentication" / "database" (retrying cannot).
    """

    stage = "reachable"


class UnknownEngine(ConnectorError):
    """No connector is registered for the engine name."""


# MySQL client errors meaning "the server went away or cannot be reached right now".
_MYSQL_TRANSIENT_CODES = {2003, 2006, 2013, 2055, 1040, 1053, 1205, 1213}


def is_transient(exc: BaseException) -> bool:
    """True for failures that retrying later can fix: lost connections, restarts, deadlocks.

    Configuration errors, refused data and purged positions are not transient: retrying would
    only hide them.
    """
    if isinstance(exc, ConnectorError):
        # A server that refuses or drops connections may be restarting; a wrong password is not.
        return isinstance(exc, ConnectionFailed) and exc.stage == "reachable"
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    module = type(exc).__module__
    if module.startswith("psycopg"):
        import psycopg

        return isinstance(exc, (psycopg.OperationalError, psycopg.errors.AdminShutdown,
                                psycopg.errors.CannotConnectNow, psycopg.errors.SerializationFailure,
                                psycopg.errors.DeadlockDetected))
    if module.startswith("pymysql"):
        import pymysql

        if isinstance(exc, pymysql.err.InterfaceError):
            return True
        if isinstance(exc, pymysql.err.OperationalError):
            return bool(exc.args) and exc.args[0] in _MYSQL_TRANSIENT_CODES
    return False
