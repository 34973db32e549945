"""The rolling history: one point per 10 s bucket, at most 24 hours of points, read back in order."""

from __future__ import annotations

import redis

from dts.monitor import history


def test_one_point_per_ten_second_bucket(client_redis: redis.Redis) -> None:
    start = 1_700_000_000.0
    for offset in (0, 3, 9.9, 10, 15, 25):
        history.record(client_redis, 7, start + offset, {"lag": offset})
    assert [point["t"] for point in history.read(client_redis, 7)] == [start, start + 10, start + 20]
    assert [point["lag"] for point in history.read(client_redis, 7)] == [0, 10, 25]


def test_the_history_stays_bounded_to_24_hours(client_redis: redis.Redis) -> None:
    start = 1_700_000_000.0
    total = history.MAX_POINTS + 500
    pipe_points = [(start + step * history.RESOLUTION_SECONDS, {"lag": step}) for step in range(total)]
    for at, point in pipe_points:
        history.record(client_redis, 8, at, point)
    points = history.read(client_redis, 8)
    assert len(points) == history.MAX_POINTS == 8640
    assert points[0]["lag"] == 500 and points[-1]["lag"] == total - 1  # the oldest went first
    assert points[-1]["t"] - points[0]["t"] == (history.MAX_POINTS - 1) * history.RESOLUTION_SECONDS
    assert client_redis.ttl(history.history_key(8)) > 0  # a deleted task's history expires by itself


def test_reading_from_a_time(client_redis: redis.Redis) -> None:
    for step in range(10):
        history.record(client_redis, 9, 1000.0 + step * 10, {"lag": step})
    assert [point["lag"] for point in history.read(client_redis, 9, since=1050)] == [5, 6, 7, 8, 9]
