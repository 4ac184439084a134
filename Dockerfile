# The tracker's one image: gunicorn (the default command), the Celery workers (one per queue) and beat,
# and `migrate` are all this image with another command (compose.yaml). Settings come from the
# environment at run time (docs/deployment.md); nothing secret is baked in.
#
#   docker build -t altinn-migration-tracker .
#
# Not built in this repository's CI (no container engine there): see docs/deployment.md.

# --- Front-end packages (Designsystemet, htmx, Chart.js) from package-lock.json ----------------------
FROM node:20-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
# Only the runtime packages: axe-core and playwright-core are for the browser tests.
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# --- Python packages, pinned, in a virtualenv the final image copies whole -----------------------------
FROM python:3.11-slim AS python-packages
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# The one pinned list CI tests with, test tools included: the image runs exactly what was tested.
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

# --- Translations compiled and static files collected, at build time ----------------------------------
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
COPY --from=python-packages /opt/venv /opt/venv
WORKDIR /app
COPY . .
COPY --from=assets /src/node_modules ./node_modules
# Settings insist on a SECRET_KEY when DEBUG is off; these two commands sign nothing, so a throw-away one
# serves. TRACKER_VAR_DIR keeps the SQLite file the settings would create out of the image.
RUN export SECRET_KEY=build-only-signs-nothing TRACKER_VAR_DIR=/tmp/build-var DEBUG=0 \
    && /opt/venv/bin/python manage.py compilemessages --ignore=node_modules -v0 \
    && /opt/venv/bin/python manage.py collectstatic --no-input -v0 \
    && rm -rf node_modules

# --- The runtime image -------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=tracker.settings \
    DEBUG=0 \
    LOG_FORMAT=json \
    TRACKER_VAR_DIR=/app/var \
    GUNICORN_BIND=0.0.0.0:8000
# A user of its own, without a shell or a home: the code and the virtualenv stay root's and read-only to
# the processes; only var/ (the beat schedule, e-mail files when no SMTP host is set) is theirs.
RUN groupadd --system --gid 10001 tracker \
    && useradd --system --uid 10001 --gid tracker --no-create-home --shell /usr/sbin/nologin tracker
COPY --from=python-packages /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
RUN mkdir -p /app/var && chown tracker:tracker /app/var
USER tracker:tracker
EXPOSE 8000
CMD ["gunicorn", "-c", "tracker/gunicorn.conf.py", "tracker.wsgi"]
