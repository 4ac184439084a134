"""gunicorn's configuration for the tracker's web processes (``gunicorn -c tracker/gunicorn.conf.py``).

Every value comes from the environment so the same file serves ``make stack``, the containers in
``compose.yaml`` and a hand-made deployment; docs/deployment.md explains each one. The defaults are the
measured choice on a 2-core machine: ``benchmarks/gunicorn_workers.py`` compares worker counts and classes.
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Threads overlap the waits on PostgreSQL that dominate a request; processes give real parallelism.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = _env_int("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1))
threads = _env_int("GUNICORN_THREADS", 4)
# The slowest honest request (an export of the whole catalog) takes a few seconds; a worker stuck far
# longer than that is killed and replaced rather than holding its connections forever.
timeout = _env_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Recycle workers now and then so a slow leak in any library cannot grow without bound; the jitter keeps
# them from all restarting at once.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = max_requests // 10
# The application logs every request itself, as JSON with its request id (tracker.middleware), so
# gunicorn's own access log would only repeat it; its error log goes to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Addresses of the reverse proxies allowed to set X-Forwarded-Proto (comma-separated, "*" for any).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Load the application in each worker, not in the master: a reload (SIGHUP) then picks up new code and
# no database connection is ever shared across a fork.
preload_app = False


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges from the shared Prometheus files (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
