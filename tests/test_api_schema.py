"""The OpenAPI schema and docs pages, authentication, tokens and throttling."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from migration_app.api.serializers import ReadinessSerializer, ServiceSerializer
from tests.factories import API, api_test_setup, client_for, make_world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _api_setup(settings):
    api_test_setup(settings)


@pytest.fixture
def schema() -> dict:
    response = client_for(None).get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_generates_without_warnings_and_validates(tmp_path):
    """drf-spectacular's own check: every view, serializer and filter resolved, and a valid OpenAPI 3."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_schema_and_docs_are_open_to_anonymous_users_and_use_no_cdn():
    client = client_for(None)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert not re.search(r"""(src|href)=["']https?://""", html)
    as_json = client.get("/api/schema/", {"format": "json"})
    assert as_json.status_code == 200
    assert as_json.json()["openapi"].startswith("3.")


def test_everything_else_needs_authentication(schema):
    client = client_for(None)
    for path, operations in schema["paths"].items():
        if "{" in path:
            continue
        for method in operations:
            if method in ("get", "post", "put", "patch", "delete"):
                response = getattr(client, method)(path)
                assert response.status_code == 401, (method, path)


def test_every_operation_documents_its_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "429"} <= codes, (method, path)
            if method != "get":
                assert {"400", "403"} <= codes, (method, path)
            assert "Retry-After" in operation["responses"]["429"]["headers"]
    transition = schema["paths"]["/api/v1/services/{id}/transition/"]["post"]
    assert {"412", "428"} <= set(transition["responses"])
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in transition["parameters"])


def test_service_list_documents_every_filter(schema):
    names = {p["name"] for p in schema["paths"]["/api/v1/services/"]["get"]["parameters"]}
    assert {
        "owner",
        "type",
        "status",
        "readiness",
        "capability",
        "target_date_from",
        "target_date_to",
        "volume_min",
        "volume_max",
        "q",
        "sort",
        "page",
        "page_size",
    } <= names


def test_schema_matches_the_representation(schema, owner, other_owner, viewer):
    """The list builds services by hand for speed; the schema is generated from the serializer.
    Both must name the same fields."""
    world = make_world(owner, other_owner)
    body = client_for(viewer).get(f"{API}/services/{world.service.pk}/").json()
    components = schema["components"]["schemas"]
    assert set(body) == set(components["Service"]["properties"]) == set(ServiceSerializer().fields)
    assert set(body["readiness"]) == set(components["Readiness"]["properties"]) == set(ReadinessSerializer().fields)
    assert set(body["readiness"]["blockers"][0]) == set(components["Blocker"]["properties"])


# --- Tokens ------------------------------------------------------------------------------------------------


def test_token_create_replace_and_revoke(editor):
    browser = client_for(editor, session=True)
    assert browser.get(f"{API}/tokens/").json() == {"has_token": False, "created": None}
    created = browser.post(f"{API}/tokens/")
    assert created.status_code == 201
    key = created.json()["token"]
    script = client_for(None)
    script.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert script.get(f"{API}/services/").status_code == 200
    # A new token replaces the old one.
    replaced = browser.post(f"{API}/tokens/").json()["token"]
    assert replaced != key
    assert script.get(f"{API}/services/").status_code == 401
    assert browser.delete(f"{API}/tokens/").status_code == 204
    assert not Token.objects.filter(user=editor).exists()


def test_invalid_token_is_401(owner):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(f"{API}/services/").status_code == 401


def test_tokens_are_managed_in_the_admin():
    from django.contrib import admin

    assert any(model._meta.app_label == "authtoken" for model in admin.site._registry)


# --- Throttling --------------------------------------------------------------------------------------------


@pytest.fixture
def low_rates(settings):
    rest = copy.deepcopy(django_settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {"anon": "2/minute", "user": "3/minute"}
    settings.REST_FRAMEWORK = rest


def test_authenticated_clients_are_throttled_with_retry_after(low_rates, viewer, editor):
    client = client_for(viewer)
    statuses = [client.get(f"{API}/milestones/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get(f"{API}/milestones/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"].lower()
    # Another user has their own allowance.
    assert client_for(editor).get(f"{API}/milestones/").status_code == 200


def test_anonymous_clients_are_throttled_by_address(low_rates):
    client = client_for(None)
    assert [client.get("/api/schema/").status_code for _ in range(3)] == [200, 200, 429]
