"""Schemathesis against the OpenAPI schema: generated requests for every operation, sent in-process
through the WSGI app with a project lead's token. No response may be a server error, and every
response must match the schema (status code, content type, headers and body).

Bounded and repeatable: a fixed number of examples per operation and a derandomized generator (the
seed is derived from the test), so a CI failure reproduces locally. Runs in well under a minute on
SQLite, so it is not marked as needing services.
"""

from __future__ import annotations

import copy

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from tests.factories import ServiceOwnerFactory, make_world

EXAMPLES_PER_OPERATION = 25
# Valid and invalid requests (positive and negative generation), from the schema's examples and from
# fuzzing. The coverage phase (every boundary value of every parameter) sends ten times as many
# requests; run it by hand with `st run` when the schema changes a lot.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(db, settings):
    """The schema, loaded through the app itself, over a small catalog with stored engine results."""
    rest = copy.deepcopy(django_settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {"anon": "100000/minute", "user": "100000/minute"}
    settings.REST_FRAMEWORK = rest
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]  # schemathesis calls the app as "localhost"
    make_world(
        ServiceOwnerFactory(code="skd", name_nb="Skatteetaten"),
        ServiceOwnerFactory(code="brg", name_nb="Brønnøysundregistrene"),
    )
    from tracker.wsgi import application

    # Like Django's test client: the real WSGI handler closes "old" connections at each request's
    # start and end, which on PostgreSQL would close the test's transaction (and its data).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        # Token rotation would sign the run's own lead out halfway; the token tests cover that endpoint.
        loaded = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)
        yield loaded.exclude(path="/api/v1/tokens/")
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def lead_token(db, lead) -> str:
    return Token.objects.get_or_create(user=lead)[0].key


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case, lead_token):
    case.call_and_validate(headers={"Authorization": f"Token {lead_token}", "Accept-Language": "en"}, checks=CHECKS)
