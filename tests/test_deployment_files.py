"""The container files and the deployment guide agree with the code they deploy.

No container engine runs in CI, so compose.yaml and the Dockerfile are never built here. These tests
check what can go stale without one noticing: every environment variable the containers set is one the
tracker reads, every variable the tracker reads is documented, the health checks probe URLs that exist,
the Dockerfile copies files that exist, and the containers run the same commands as ``make stack``.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.urls import Resolver404, resolve

from tracker.stack import WORKERS, Stack, StackError

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = {"migrate", "web", *WORKERS, "beat"}
# Read by programs other than the tracker's own code: Django's entry points, the postgres and redis
# images, redis-cli, the Python interpreter and pip.
EXTERNAL_VARIABLES = {
    "DJANGO_SETTINGS_MODULE",
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "REDISCLI_AUTH",
    "PATH",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
}
# settings.py's typed readers (env_str, env_bool, env_rate, env_required, ...) and gunicorn.conf.py's _env_int.
ENV_READER = re.compile(r"_?env_[a-z_]+")


def variables_read(path: Path) -> set[str]:
    """Names of the environment variables a module reads: ``env_…("NAME")``, ``os.environ.get("NAME")``,
    ``os.environ["NAME"]`` and ``os.getenv("NAME")``, found in its syntax tree."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = ast.unparse(node.func)
            if ENV_READER.fullmatch(function) or function in {"os.environ.get", "os.getenv"}:
                names.add(node.args[0].value)
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            if isinstance(node.slice, ast.Constant):
                names.add(node.slice.value)
    return names


def tracker_variables() -> set[str]:
    """Every variable the tracker's settings, gunicorn configuration and other tracker modules read."""
    modules = [path for path in (ROOT / "tracker").glob("*.py") if path.name != "stack.py"]
    return set().union(*(variables_read(path) for path in modules))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def environment_names(service: dict) -> set[str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return {item.split("=", 1)[0] for item in environment}
    return set(environment)


def example_env() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _equals, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def test_variable_scan_finds_the_settings_it_should():
    """A guard for the scanner itself: were it to find nothing, the checks below would pass vacuously."""
    found = tracker_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DEBUG", "GUNICORN_WORKERS", "TRACKER_VAR_DIR"} <= found


def test_compose_has_the_stack_services_wired_to_each_other(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *APP_SERVICES}
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on an unknown service {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in compose["volumes"], f"{name} mounts an undeclared volume {source}"
    # Migrations run once, to completion, before any process that uses the database starts.
    for name in APP_SERVICES - {"migrate"}:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"][-2:] == ["migrate", "--no-input"]


def test_every_variable_compose_sets_is_read_by_the_tracker(compose):
    known = tracker_variables() | EXTERNAL_VARIABLES
    for name in APP_SERVICES:
        unknown = environment_names(compose["services"][name]) - known
        assert not unknown, f"compose.yaml sets {sorted(unknown)} for {name}, which nothing reads"
    dockerfile_env = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", _dockerfile_env_block()))
    assert not dockerfile_env - known, f"the Dockerfile sets unknown variables {sorted(dockerfile_env - known)}"


def test_example_env_file_names_only_known_variables_and_every_secret(compose):
    example = example_env()
    unknown = set(example) - tracker_variables() - EXTERNAL_VARIABLES
    assert not unknown, f".env.example names {sorted(unknown)}, which nothing reads"
    # Everything compose requires (${NAME:?...}: the database and broker passwords) must be in the example.
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", (ROOT / "compose.yaml").read_text()))
    assert required <= set(example), f"{sorted(required - set(example))} missing from .env.example"
    # Secrets are placeholders there, never usable values.
    for secret in ("SECRET_KEY", "METRICS_TOKEN", "POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        assert example[secret] == "", f"{secret} must be left empty in .env.example"


def test_every_variable_the_tracker_reads_is_in_the_deployment_guide():
    guide = (ROOT / "docs" / "deployment.md").read_text()
    # The settings' and gunicorn's, the workers' sizes (the launcher's), and those compose interpolates.
    interpolated = set(re.findall(r"\$\{([A-Z0-9_]+)", (ROOT / "compose.yaml").read_text()))
    sizes = {worker.concurrency_variable for worker in WORKERS.values()}
    variables = tracker_variables() | sizes | (interpolated - EXTERNAL_VARIABLES)
    undocumented = {name for name in variables if f"`{name}`" not in guide}
    assert not undocumented, f"docs/deployment.md does not document {sorted(undocumented)}"


def test_web_health_check_probes_the_liveness_url(compose):
    probe = " ".join(compose["services"]["web"]["healthcheck"]["test"])
    path = re.search(r"http://[^/]+(/[^'\"\s]*)", probe).group(1)
    assert path == "/healthz"
    try:
        match = resolve(path)
    except Resolver404:
        pytest.fail(f"the web health check probes {path}, which the URLconf does not serve")
    assert match.func.__name__ == "healthz"


def test_database_and_broker_checks_use_their_servers_own_tools(compose):
    services = compose["services"]
    assert services["postgres"]["healthcheck"]["test"][1] == "pg_isready"
    assert services["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    # Queued tasks survive a broker restart only with the append-only file on.
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_containers_run_what_make_stack_runs(compose):
    """The web, worker and beat commands are the launcher's, give or take paths and per-run options."""
    stack_commands = Stack(env={}).commands()

    def shape(command: list[str]) -> list[str]:
        words = [Path(word).name if "/" in word and not word.startswith("--") else word for word in command]
        return [word.split("=", 1)[0] if word.startswith("--") else word for word in words]

    services = compose["services"]
    dockerfile_cmd = re.search(r"^CMD (.+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE).group(1)
    assert shape(services["web"]["command"]) == shape(stack_commands["web"])
    assert shape(yaml.safe_load(dockerfile_cmd)) == shape(stack_commands["web"])
    for name in WORKERS:
        worker = shape(stack_commands[name])
        assert shape(services[name]["command"]) == [word for word in worker if word != "--hostname"], name
    beat = shape(stack_commands["beat"])
    assert shape(services["beat"]["command"]) == [word for word in beat if word != "--pidfile"]
    assert services["beat"]["deploy"]["replicas"] == 1, "exactly one beat: two would queue every task twice"


def test_dockerfile_copies_files_that_exist():
    copies = [
        shlex.split(line)[1:]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and "--from=" not in line
    ]
    assert copies, "the Dockerfile copies nothing from the build context"
    for *sources, _destination in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which does not exist"
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".venv", "node_modules", "var"} <= ignored, "secrets and local state must stay out of the image"


def _dockerfile_env_block() -> str:
    """The runtime stage's ENV instruction, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return "\n".join(line for line in text.splitlines() if line.startswith("ENV "))


def test_each_worker_consumes_the_queue_of_its_kind_sized_alike_in_compose_and_make_stack(compose):
    """One worker per queue, everywhere: the queue the settings route a kind of work to is the one its
    worker consumes, and compose sizes it from the same variable, with the same default, as make stack."""
    stack = Stack(env={"CELERY_QUEUE": settings.TASK_QUEUE_PREFIX})
    assert set(WORKERS) == {name for name in compose["services"] if name.startswith("worker")}
    assert sorted(worker.kind for worker in WORKERS.values()) == sorted(settings.TASK_QUEUES)
    for name, worker in WORKERS.items():
        assert stack.worker_queues()[name] == settings.TASK_QUEUES[worker.kind]
        options = dict(word.split("=", 1) for word in compose["services"][name]["command"] if "=" in word)
        # Compose takes the prefix from .env (as the settings do, through env_file), else the default.
        assert options["--queues"] == f"${{CELERY_QUEUE:-tracker}}.{worker.kind}"
        assert options["--concurrency"] == f"${{{worker.concurrency_variable}:-{worker.default_concurrency}}}"
        assert f"--concurrency={worker.default_concurrency}" in Stack(env={}).commands()[name]
    # The environment sizes make stack's workers; a bad value stops it before anything starts.
    sized = Stack(env={worker.concurrency_variable: "3" for worker in WORKERS.values()})
    assert all("--concurrency=3" in sized.commands()[name] for name in WORKERS)
    with pytest.raises(StackError, match="CELERY_EMAIL_CONCURRENCY"):
        Stack(env={"CELERY_EMAIL_CONCURRENCY": "0"}).commands()
