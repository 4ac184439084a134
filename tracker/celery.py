"""The Celery app, configured from Django settings (``CELERY_*``): Redis broker and results from REDIS_URL.

Tasks are routed by name to one queue per kind of work (``CELERY_TASK_ROUTES``, ``TASK_QUEUES``):
recompute and snapshots on one, e-mail on the other, each with workers of its own (tracker/stack.py).
"""

import os

from celery import Celery

from tracker import logs, metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Operations: task ids in log lines, Django's LOGGING kept in workers, task outcomes and durations in
# /metrics. Connected here, where every process that runs tasks (worker, or web with eager tasks) passes.
logs.celery_signals_connect()
metrics.celery_signals_connect()
