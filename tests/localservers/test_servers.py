"""The test tooling itself: servers start with the settings CDC needs."""

from dts.localservers import MariaDBServer, PostgresServer, RedisServer


def test_mariadb_has_row_binlog_with_full_metadata(mariadb: MariaDBServer) -> None:
    cur = mariadb.connect().cursor()
    cur.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata")
    assert cur.fetchone() == (1, "ROW", "FULL", "FULL")


def test_postgres_has_logical_wal(postgres: PostgresServer) -> None:
    with postgres.connect() as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("logical",)


def test_redis_answers_and_settings_point_at_it(redis_server: RedisServer) -> None:
    import redis
    from django.conf import settings

    assert settings.REDIS_URL == redis_server.url
    assert redis.Redis.from_url(redis_server.url).ping() is True


def test_a_killed_mariadb_restarts_with_its_data(tmp_path: object) -> None:
    server = MariaDBServer().start()
    try:
        server.connect().cursor().execute("CREATE DATABASE survives")
        server.restart()
        cur = server.connect().cursor()
        cur.execute("SHOW DATABASES LIKE 'survives'")
        assert cur.fetchone() == ("survives",)
    finally:
        server.stop()
