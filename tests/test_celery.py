"""The Celery app's routing (tracker/celery.py, CELERY_TASK_ROUTES in settings): one queue per kind of work.

Recomputes and snapshots take minutes; e-mail must not wait behind them. The routes are read from Celery
itself, as it computes them when it publishes: each task's own options, then the routes, then the
default queue. A recording router stops the publishing there, so nothing reaches a broker.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings

from tracker.celery import app

# The kind of every task the tracker registers. A new task belongs here, and on the e-mail queue
# (settings.CELERY_TASK_ROUTES) when it sends e-mail or queues deliveries.
KIND_OF_TASK = {
    "migration_app.recompute_portfolio": "recompute",
    "migration_app.recompute_portfolio_if_stale": "recompute",
    "migration_app.progress_snapshot_take": "recompute",
    "migration_app.weekly_reports_fan_out": "email",
    "migration_app.weekly_report_deliver": "email",
}
# Arguments for the tasks that need some (apply_async checks them against the signature first).
SAMPLE_ARGS = {"migration_app.weekly_report_deliver": (1, "2026-W48")}


class RouteComputed(Exception):
    """Carries the route Celery computed out of the publishing call, which stops there."""


class RecordingRouter:
    def route(self, options, name, args=(), kwargs=None, task_type=None):
        raise RouteComputed(app.amqp.router.route(options, name, args, kwargs, task_type))


def queue_of(publish: Callable[..., object], *args: object, **options: object) -> str:
    """The queue that ``publish`` (an ``apply_async`` or ``send_task``) would send to with these arguments."""
    with pytest.raises(RouteComputed) as computed:
        publish(*args, router=RecordingRouter(), **options)
    return computed.value.args[0]["queue"].name


@pytest.fixture(autouse=True)
def publishing():
    """As with a broker: without one the tests run tasks in-process (settings), apply_async included."""
    previous = app.conf.task_always_eager
    # The app reads Django settings with the CELERY_ namespace, so the override uses that key.
    app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    yield
    app.conf.update(CELERY_TASK_ALWAYS_EAGER=previous)


def registered_tasks() -> set[str]:
    """The tracker's own tasks: not Celery's built-in ones, nor those other test modules register."""
    return {
        name for name, task in app.tasks.items() if task.__module__.partition(".")[0] in {"migration_app", "tracker"}
    }


def test_every_task_the_app_registers_goes_to_the_queue_of_its_kind():
    assert registered_tasks() == set(KIND_OF_TASK), "a task was added or renamed: give it a kind above"
    for name in registered_tasks():
        expected = settings.TASK_QUEUES[KIND_OF_TASK[name]]
        # apply_async, as tasks.py queues deliveries: the task's own options could override the routes.
        assert queue_of(app.tasks[name].apply_async, SAMPLE_ARGS.get(name)) == expected, name
        # send_task by name, as services (services.task_queue) and beat queue work.
        assert queue_of(app.send_task, name) == expected, name


def test_beats_schedule_sends_each_entry_to_the_queue_of_its_task():
    for key, entry in settings.CELERY_BEAT_SCHEDULE.items():
        # What beat does: send_task with the entry's options.
        assert (
            queue_of(app.send_task, entry["task"], **entry["options"])
            == (settings.TASK_QUEUES[KIND_OF_TASK[entry["task"]]])
        ), key


def test_an_unrouted_task_goes_to_the_recompute_queue_and_the_queues_share_the_prefix():
    assert queue_of(app.send_task, "migration_app.not_written_yet") == settings.TASK_QUEUES["recompute"]
    prefix = settings.TASK_QUEUE_PREFIX
    assert {"recompute": f"{prefix}.recompute", "email": f"{prefix}.email"} == settings.TASK_QUEUES
    # Declared, so that a worker started without --queues consumes both.
    assert set(app.amqp.queues) == set(settings.TASK_QUEUES.values())
