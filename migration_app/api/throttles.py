"""Rate limits for anonymous and authenticated clients (429 with Retry-After, counted in the cache).

DRF's throttles copy the configured rates into a class attribute when first imported, so a changed
setting (a test, or a reloaded configuration) would go unseen; these read them on every request.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class AnonThrottle(AnonRateThrottle):
    """Anonymous clients, by address: they reach only the schema and docs (and a 401 elsewhere)."""

    def get_rate(self) -> str | None:
        rate: str | None = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return rate


class UserThrottle(UserRateThrottle):
    """Authenticated clients, by user: a lead's script pulling pages of 1,000 stays well inside it."""

    def get_rate(self) -> str | None:
        rate: str | None = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return rate
