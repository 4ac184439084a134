"""Celery tasks: thin wrappers that take ids and call services. See STYLE.md."""

from __future__ import annotations


def recompute_portfolio_request() -> None:
    """Placeholder until the engine lands: nothing to recompute yet."""
