"""The Celery app, configured from Django settings (``CELERY_*``): Redis broker and results from REDIS_URL."""

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
