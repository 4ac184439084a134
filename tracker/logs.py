"""Structured logs: one JSON object per line, each carrying the id of the request or task it belongs to.

The id lives in a context variable, set by ``tracker.middleware.RequestObservationMiddleware`` for a web
request and by the Celery signal handlers below for a task, and a logging filter copies it onto every
record. ``LOG_FORMAT`` picks :class:`JsonFormatter` (production) or :class:`PlainFormatter` (a terminal);
both show the same fields.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import re
import uuid
from typing import Any

# The request (or task) whose work is being logged; None outside both, e.g. in a management command.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# (task id, task name) while a Celery task runs, in a worker or eagerly inside a web request.
task_var: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("task", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is copied into every log line and echoed to the client, so it must not be able to
# forge log lines (no newlines or quotes) or bloat every record: ids from proxies (uuid, hex, base64url,
# "Root=1-..." trace ids) fit this; anything else is replaced with an id of our own.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:=+/-]{1,128}")


def request_id_accept(incoming: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is well formed, so logs join up across services; else a new one."""
    if incoming and REQUEST_ID_PATTERN.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request id and task, unless the call passed them in ``extra``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        task = task_var.get()
        if task is not None and not hasattr(record, "task_id"):
            record.task_id, record.task_name = task
        return True


# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _log_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` fields of a record (request id, request and task details, anything a caller added)."""
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO 8601, UTC), level, logger, message, request_id, then extra fields.

    Exceptions and stack traces become an ``exception`` / ``stack`` string inside the object, so a
    traceback never splits into lines a log shipper would read as separate events.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        entry.update(_log_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: a lazy translation, a date or a model instance passed in ``extra`` is still logged.
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """Human-readable lines for a terminal: time, level, logger, [request id], message, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _log_fields(record)
        request_id = fields.pop("request_id", None) or "-"
        line = f"{self.formatTime(record)} {record.levelname} {record.name} [{request_id}] {record.getMessage()}"
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


# --- Celery: a task's lines carry its id and name ------------------------------------------------------

# Context tokens of running tasks, by task id, so postrun restores what prerun replaced: an eager task
# runs inside a web request, whose own id must come back once the task is done.
_task_tokens: dict[str, tuple[contextvars.Token, contextvars.Token]] = {}


def task_log_context_enter(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """``task_prerun``: log the task's lines under its id and name.

    In a worker the task id becomes the request id. A task run eagerly inside a web request keeps
    that request's id, so its lines join the request's; the task fields still tell them apart.
    """
    if task_id is None:
        return
    request_token = request_id_var.set(request_id_var.get() or task_id)
    _task_tokens[task_id] = (request_token, task_var.set((task_id, getattr(task, "name", "?"))))


def task_log_context_leave(task_id: str | None = None, **_: Any) -> None:
    """``task_postrun``: restore the ids that were current before the task started."""
    tokens = _task_tokens.pop(task_id, None) if task_id else None
    if tokens is not None:
        request_token, task_token = tokens
        request_id_var.reset(request_token)
        task_var.reset(task_token)


def celery_logging_keep_django(loglevel: int | str | None = None, **_: Any) -> None:
    """``setup_logging``: keep Django's LOGGING (JSON) in workers and beat instead of Celery's own format.

    Having any receiver for this signal stops Celery from reconfiguring the root logger; applying
    LOGGING again covers a process whose logging was touched before Django was set up. The level is
    the one given to ``celery worker --loglevel``, as Celery users expect.
    """
    from django.conf import settings
    from django.utils.log import configure_logging

    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


def celery_signals_connect() -> None:
    """Connect the handlers above; ``dispatch_uid`` makes a second call (a re-imported module) harmless."""
    from celery import signals

    signals.task_prerun.connect(task_log_context_enter, weak=False, dispatch_uid="tracker.logs.prerun")
    signals.task_postrun.connect(task_log_context_leave, weak=False, dispatch_uid="tracker.logs.postrun")
    signals.setup_logging.connect(celery_logging_keep_django, weak=False, dispatch_uid="tracker.logs.setup")
