# The two commands: `make run` and `make test`. Everything else is set up on demand.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.requirements-installed
NPM_STAMP := node_modules/.package-lock-installed
HOST ?= 127.0.0.1
PORT ?= 8000

# The embedded default: debug on, SQLite under var/, tasks in-process. Override by exporting them.
export DEBUG ?= 1

.PHONY: run test lint fmt setup migrate messages static demo worker beat bench clean stack stack-stop stack-status

$(PIP_STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(PIP_STAMP) $(NPM_STAMP) messages static

static: $(PIP_STAMP) $(NPM_STAMP)
	$(PY) manage.py collectstatic --no-input -v0

messages: $(PIP_STAMP)
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules -v0

migrate: setup
	$(PY) manage.py migrate --no-input -v1

# Seeds demo data only when the catalog is empty, then prints the demo logins.
demo: migrate
	$(PY) manage.py seed_demo --if-empty

run: demo
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl-C stops)"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: setup
	SECRET_KEY=$${SECRET_KEY:-insecure-test-key} $(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

fmt: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Production-style background processing: needs REDIS_URL (and normally DATABASE_URL). One worker for both
# queues; QUEUES=email (or recompute, or both comma-separated) and CONCURRENCY=n run one as `make stack` does.
WORKER_KINDS := recompute email
empty :=
space := $(empty) $(empty)
comma := ,
worker_kinds = $(subst $(comma),$(space),$(QUEUES))
worker_queues = $(subst $(space),$(comma),$(patsubst %,$${CELERY_QUEUE:-tracker}.%,$(worker_kinds)))
worker: migrate
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL, e.g. redis://127.0.0.1:6379/0"; exit 2; }
	@test -z "$(filter-out $(WORKER_KINDS),$(worker_kinds))" || { echo "QUEUES takes $(WORKER_KINDS)"; exit 2; }
	$(VENV)/bin/celery -A tracker worker --loglevel=INFO \
	  $(if $(QUEUES),--queues=$(worker_queues)) $(if $(CONCURRENCY),--concurrency=$(CONCURRENCY))

beat: migrate
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL, e.g. redis://127.0.0.1:6379/0"; exit 2; }
	$(VENV)/bin/celery -A tracker beat --loglevel=INFO --schedule=var/celerybeat-schedule

# The production configuration on this machine (docs/deployment.md): gunicorn, a Celery worker per queue
# and beat in the background, on PostgreSQL and Redis. Uses DATABASE_URL/REDIS_URL when set, else the local
# servers; CELERY_RECOMPUTE_CONCURRENCY and CELERY_EMAIL_CONCURRENCY size the workers.
STACK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tracker
STACK_REDIS_URL ?= redis://127.0.0.1:6379/1
stack: setup
	DEBUG=0 DATABASE_URL=$${DATABASE_URL:-$(STACK_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(STACK_REDIS_URL)} \
	  $(PY) -m tracker.stack start --demo --host $(HOST) --port $(PORT)

stack-stop:
	$(PY) -m tracker.stack stop

stack-status:
	$(PY) -m tracker.stack status --host $(HOST) --port $(PORT)

bench: migrate
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) node_modules staticfiles var
