"""The Redis cache fails open (tracker/cache.py): with Redis unreachable it is an empty cache that keeps
nothing, at once and without raising, so the API throttles and pages carry on; with Redis there it is
Django's Redis cache, and clear() removes only its own keys.
"""

from __future__ import annotations

import logging
import time

import pytest
from django.core.cache import caches
from django.test import RequestFactory
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.throttling import AnonRateThrottle

from tests.conftest import redis_available, require_service
from tests.stack.servers import free_port
from tracker.cache import FailOpenRedisCache


def cache_at(location: str, prefix: str = "cache-test") -> FailOpenRedisCache:
    return FailOpenRedisCache(
        location,
        {"KEY_PREFIX": prefix, "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5, "retry_after": 30}},
    )


@pytest.fixture
def unreachable() -> FailOpenRedisCache:
    # A free port nobody listens on: every connection is refused, as with Redis stopped.
    return cache_at(f"redis://127.0.0.1:{free_port()}/0")


def test_an_unreachable_redis_reads_as_an_empty_cache(unreachable):
    assert unreachable.get("k") is None
    assert unreachable.get("k", "fallback") == "fallback"
    assert unreachable.get_many(["a", "b"]) == {}
    assert unreachable.has_key("k") is False
    assert unreachable.get_or_set("k", "computed") == "computed"


def test_an_unreachable_redis_stores_nothing_and_says_so(unreachable):
    unreachable.set("k", 1)
    assert unreachable.get("k") is None
    # add() did not store: a caller using it as a lock must not think it holds one.
    assert unreachable.add("k", 1) is False
    assert unreachable.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert unreachable.touch("k") is False
    assert unreachable.delete("k") is False
    unreachable.delete_many(["a", "b"])
    assert unreachable.clear() is False
    with pytest.raises(ValueError):
        unreachable.incr("k")


def test_after_a_failure_no_thread_asks_redis_again_for_a_while_and_the_outage_is_logged_once(unreachable, caplog):
    # Django makes a cache object per thread: this one stands for another thread of the same process.
    other_thread = cache_at(unreachable._servers[0])
    with caplog.at_level(logging.WARNING, logger="tracker.cache"):
        unreachable.get("k")
        asked = []
        for cache in (unreachable, other_thread):
            cache._cache.get_client = lambda *args, **kwargs: asked.append(args)
        started = time.monotonic()
        for _ in range(200):
            unreachable.get("k")
            other_thread.set("k", 1)
        elapsed = time.monotonic() - started
    assert asked == []
    assert elapsed < 0.5
    assert [record.getMessage()[:35] for record in caplog.records] == ["The cache (Redis) is unavailable; c"]


def test_api_throttles_let_requests_through_while_redis_is_down(unreachable, settings, monkeypatch):
    monkeypatch.setattr(AnonRateThrottle, "cache", unreachable)
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute"})
    throttle = AnonRateThrottle()
    request = RequestFactory().get("/api/v1/services/")
    request.user = None
    assert all(throttle.allow_request(request, view=None) for _ in range(5))


@pytest.fixture
def live_location(settings) -> str:
    require_service("Redis", redis_available(), "set REDIS_URL")
    return settings.REDIS_URL


def test_with_redis_there_it_is_a_shared_cache(live_location):
    one, other = cache_at(live_location), cache_at(live_location)
    try:
        one.set("shared", {"count": 3}, 30)
        # Another process (here another client) sees the same value: throttles count across processes.
        assert other.get("shared") == {"count": 3}
        assert other.add("shared", 0) is False
        one.set("n", 1, 30)
        assert other.incr("n", 2) == 3
    finally:
        one.clear()


def test_after_the_pause_redis_is_asked_again_and_used_once_it_answers(live_location, caplog):
    cache = cache_at(live_location, "cache-test-back")
    cache.retry_after = 0.2

    def refused() -> None:
        raise RedisConnectionError("Connection refused")

    try:
        with caplog.at_level(logging.INFO, logger="tracker.cache"):
            cache._or(None, refused)
            cache.set("k", 1, 30)  # skipped: Redis failed moments ago
            time.sleep(0.3)
            assert cache.get("k") is None
            cache.set("k", 2, 30)
            assert cache.get("k") == 2
        assert "The cache (Redis) is available again." in caplog.messages
    finally:
        cache.clear()


def test_clear_removes_only_this_caches_keys(live_location):
    import redis

    client = redis.Redis.from_url(live_location)
    mine, theirs = cache_at(live_location, "cache-test-mine"), cache_at(live_location, "cache-test-theirs")
    try:
        mine.set("a", 1, 30)
        theirs.set("a", 2, 30)
        # A broker's queue in the same database (kombu keeps queues as plain lists).
        client.rpush("cache-test-queue", "task")
        assert mine.clear() is True
        assert mine.get("a") is None
        assert theirs.get("a") == 2
        assert client.llen("cache-test-queue") == 1
    finally:
        theirs.clear()
        client.delete("cache-test-queue")


def test_the_configured_cache_is_the_failing_open_one_when_redis_is_configured(settings):
    backend = caches["default"]
    if settings.REDIS_URL:
        assert isinstance(backend, FailOpenRedisCache)
    else:
        # Embedded: one process, Django's memory cache.
        assert type(backend).__name__ == "LocMemCache"
