"""Which failures a running task retries and which fail it, against real servers."""

from __future__ import annotations

import pytest

from connectors.config import ConnectionConfig
from connectors.errors import ConnectionFailed, is_transient
from connectors.registry import sink_for
from dts.localservers import PostgresServer, free_port


def test_a_refused_connection_is_retried_but_a_wrong_password_is_not(postgres: PostgresServer) -> None:
    down = sink_for(ConnectionConfig("postgresql", "127.0.0.1", free_port(), "postgres", "postgres", "postgres"))
    with pytest.raises(ConnectionFailed) as refused:
        down.connection()
    assert is_transient(refused.value)

    wrong = sink_for(ConnectionConfig("postgresql", postgres.host, postgres.port, "postgres", "not-the-password",
                                      "postgres"))
    with pytest.raises(ConnectionFailed) as denied:
        wrong.connection()
    assert not is_transient(denied.value)
