"""Redis Streams sink tests, against a real redis-server."""
