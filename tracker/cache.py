"""The shared cache on Redis, failing open: a Redis outage makes the cache empty, never a page fail.

What the tracker keeps in the cache is worth little next to answering: the API throttles' request
histories. Django's own Redis backend raises on a connection error, which would turn a broker outage
into 500s on every API call, so ``FailOpenRedisCache`` answers as an empty cache that stores nothing
instead (``get`` gives the default, ``set`` does nothing, ``add`` stores nothing and says so) and logs
it. After a failure it does not ask Redis again for ``retry_after`` seconds: with a server that is
unreachable rather than refusing, every call would otherwise wait for the socket timeout first.

The throttles therefore let everything through while Redis is down. That is the intended trade: the
alternative is refusing everyone, and the sign-in lockout (django-axes) counts in PostgreSQL, not here.

``clear()`` deletes only this cache's keys (its KEY_PREFIX), not the whole Redis database: the cache
may share its database with the Celery broker's queues, which a FLUSHDB would silently drop.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar, cast

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# A refused connection, a timeout, a server still loading its append-only file (BusyLoadingError is a
# ConnectionError): all mean "Redis is not there right now". Other Redis errors are bugs and propagate.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)

T = TypeVar("T")
GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


class _Unavailable(Exception):
    """Redis failed recently; the call was not attempted."""


class _Outage:
    """Whether one Redis location failed moments ago, for every cache object on it in this process.

    Django makes a cache object per thread, and a gunicorn process runs several threads: they share
    this, so one failure spares the other threads the wait and the outage is logged once per process.
    """

    _by_location: dict[str, _Outage] = {}
    _registry_lock = threading.Lock()

    def __init__(self) -> None:
        self.until = 0.0  # time.monotonic() before which Redis is not asked; 0.0 while it is up
        self.lock = threading.Lock()

    @classmethod
    def of(cls, location: str) -> _Outage:
        with cls._registry_lock:
            return cls._by_location.setdefault(location, cls())


class FailOpenRedisCache(RedisCache):
    """Django's Redis cache, answering as an empty cache while Redis is unreachable.

    ``OPTIONS`` go to redis-py's connection pool as usual; set short ``socket_connect_timeout`` and
    ``socket_timeout`` there (settings.py does), since they bound what a request waits for a server
    that does not answer. ``OPTIONS["retry_after"]`` (seconds, default 5) is taken out before that.
    """

    # Set by RedisCache.__init__ (the servers named in LOCATION); the stubs do not declare it.
    _servers: list[str]

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS", {}))
        self.retry_after: float = float(options.pop("retry_after", 5.0))
        super().__init__(server, {**params, "OPTIONS": options})
        self._outage = _Outage.of(",".join(self._servers))

    def _call(self, operation: Callable[[], T]) -> T:
        """Run one Redis operation; raise _Unavailable when Redis fails now or failed moments ago."""
        outage = self._outage
        if time.monotonic() < outage.until:
            raise _Unavailable
        try:
            result = operation()
        except UNAVAILABLE as exc:
            with outage.lock:
                if outage.until == 0.0:
                    logger.warning("The cache (Redis) is unavailable; carrying on without it: %s", exc)
                outage.until = time.monotonic() + self.retry_after
            raise _Unavailable from exc
        if outage.until:
            with outage.lock:
                if outage.until:
                    logger.info("The cache (Redis) is available again.")
                    outage.until = 0.0
        return result

    def _or(self, fallback: T, operation: Callable[[], T]) -> T:
        try:
            return self._call(operation)
        except _Unavailable:
            return fallback

    # What an empty cache that keeps nothing would answer, operation by operation.

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._or(default, partial(super().get, key, default, version))

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return self._or({}, partial(super().get_many, keys, version))

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._or(False, partial(super().has_key, key, version))

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        # Nothing was stored, so False, although an empty cache would have taken it: a caller using add()
        # as a lock must not believe it holds one.
        return self._or(False, partial(super().add, key, value, timeout, version))

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._or(None, partial(super().set, key, value, timeout, version))

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list:
        # Django's contract: the keys that could not be stored.
        return self._or(list(data), partial(super().set_many, data, timeout, version))

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._or(False, partial(super().touch, key, timeout, version))

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            return self._call(partial(super().incr, key, delta, version))
        except _Unavailable:
            # What an empty cache says of any key. (decr() comes through here too.)
            raise ValueError(f"Key '{key}' not found: the cache is unavailable.") from None

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._or(False, partial(super().delete, key, version))

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._or(None, partial(super().delete_many, keys, version))

    # Django's RedisCache.clear answers whether anything was deleted; the stubs keep BaseCache's None.
    def clear(self) -> bool:  # type: ignore[override]
        """Delete this cache's keys (those under its KEY_PREFIX) and nothing else in the database."""
        return self._or(False, self._clear_own_keys)

    def _clear_own_keys(self) -> bool:
        client = self._cache.get_client(None, write=True)
        # Django's key function makes "<KEY_PREFIX>:<version>:<key>"; the prefix is escaped for Redis' glob.
        pattern = GLOB_SPECIAL.sub(r"\\\1", self.key_prefix) + ":*"
        # The client is synchronous: DEL answers the number of keys it removed (redis-py's type also
        # covers the asyncio client, whose DEL answers an Awaitable).
        deleted = 0
        batch: list[bytes] = []
        for name in client.scan_iter(match=pattern, count=500):
            batch.append(name)
            if len(batch) == 500:
                deleted += cast(int, client.delete(*batch))
                batch = []
        if batch:
            deleted += cast(int, client.delete(*batch))
        return bool(deleted)
