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
# One process per core (real parallelism; more only add memory and connections) with eight threads each
# (a request waiting on PostgreSQL or Redis lets another run, and a cheap API call or a load balancer's
# probe need not queue behind a slow page). Measured with benchmarks/gunicorn_workers.py on 2 cores,
# 1,000 services, 16 users without think time (owners' pages and a lead's API pages, 3:1), throughput as a
# ratio to (2 × cores) + 1 = 5 sync workers measured in the same run, three runs:
#   --configs sync:5,gthread:2x4,gthread:2x8,gthread:4x4 --rounds 4 --seconds 10
#       gthread 2x8 2.84×, 4x4 2.55×, 2x4 1.94× (p50 594 ms against 2,316 ms, p99 2.1 s against 3.5 s)
#   --configs sync:5,sync:2,gthread:2x2,gthread:2x4,gthread:2x8,gthread:4x4
#       gthread 2x8 1.85×, 4x4 1.64×, 2x4 0.93×, 2x2 0.86×, sync 2 0.69×
#   (default configurations then: sync 2-5 and gthread 2-5 processes × 4 threads)
#       gthread 2x4 2.48×, 3x4 2.02×, 4x4 1.43×, 5x4 1.40×; sync 2-5 0.94-1.08×
# Zero errors throughout. The machine was shared with other test runs (load average 10-20), so single
# figures swing widely; gthread 2x8 led every run it was in (docs/deployment.md has the tables).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = _env_int("GUNICORN_WORKERS", os.cpu_count() or 1)
threads = _env_int("GUNICORN_THREADS", 8)
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
# gunicorn's control socket defaults to one fixed path per user ($HOME/.gunicorn/gunicorn.ctl), which every
# gunicorn on the machine (a second stack, the tests' stacks) would take over and remove on exit; the stack
# is managed with signals (tracker/stack.py), so it has no use for one.
control_socket_disable = True
# Load the application in each worker, not in the master: a reload (SIGHUP) then picks up new code and
# no database connection is ever shared across a fork.
preload_app = False


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges from the shared Prometheus files (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
