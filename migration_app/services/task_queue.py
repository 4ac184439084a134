"""Sending Celery tasks by name, so that services never import ``tasks`` (which imports services)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import current_app


def task_send(name: str, *, args: Sequence[Any] = (), **options: Any) -> None:
    """Queue the task registered as ``name`` with Celery's ``apply_async`` options.

    ``send_task`` routes by name like ``apply_async`` does, but it ignores ``task_always_eager``. The
    embedded default (no REDIS_URL) runs tasks in-process, so there the registered task is applied
    here instead (``MigrationAppConfig.ready`` imports the tasks module, so every name is registered).
    """
    if current_app.conf.task_always_eager:
        current_app.tasks[name].apply_async(args=args, **options)
    else:
        current_app.send_task(name, args=args, **options)
