"""Services queue Celery work by task name (services.task_queue), so they never import tasks.py."""

from __future__ import annotations

import pytest
from celery import current_app

from migration_app.models import PortfolioState
from migration_app.services.recompute import RECOMPUTE_TASK
from migration_app.services.task_queue import task_send
from tests.factories import ServiceFactory


@pytest.fixture
def eager(request):
    """Celery's eager mode set for the test (the app reads Django settings with the CELERY_ namespace)."""
    previous = current_app.conf.task_always_eager
    current_app.conf.update(CELERY_TASK_ALWAYS_EAGER=request.param)
    yield request.param
    current_app.conf.update(CELERY_TASK_ALWAYS_EAGER=previous)


@pytest.mark.django_db
@pytest.mark.parametrize("eager", [True], indirect=True)
def test_without_a_broker_the_named_task_runs_here_at_once(owner, eager, monkeypatch):
    # The embedded default (`make run`, no REDIS_URL): send_task would ignore eager mode and try a broker.
    monkeypatch.setattr(current_app, "send_task", lambda *a, **k: pytest.fail("sent to a broker"))
    ServiceFactory(owner=owner)
    task_send(RECOMPUTE_TASK, countdown=2, ignore_result=True)
    state = PortfolioState.objects.singleton().get()
    assert state.computed_revision is not None, "the recompute ran in-process"


@pytest.mark.parametrize("eager", [False], indirect=True)
def test_with_a_broker_the_task_is_sent_by_name_with_its_options(eager, monkeypatch):
    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **options: sent.append((name, options)))
    task_send(RECOMPUTE_TASK, args=(1,), countdown=2, ignore_result=True)
    assert sent == [(RECOMPUTE_TASK, {"args": (1,), "countdown": 2, "ignore_result": True})]
