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
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

fmt: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Production-style background processing: needs REDIS_URL (and normally DATABASE_URL).
worker: migrate
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL, e.g. redis://127.0.0.1:6379/0"; exit 2; }
	$(VENV)/bin/celery -A tracker worker --loglevel=INFO

beat: migrate
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL, e.g. redis://127.0.0.1:6379/0"; exit 2; }
	$(VENV)/bin/celery -A tracker beat --loglevel=INFO --schedule=var/celerybeat-schedule

# The production configuration on this machine (docs/deployment.md): gunicorn, a Celery worker and beat
# in the background, on PostgreSQL and Redis. Uses DATABASE_URL/REDIS_URL when set, else the local servers.
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
