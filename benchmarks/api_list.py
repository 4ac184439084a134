"""API list speed: all 1,000 services in one page, against a plain DRF baseline and the floor.

On the same seeded data (seed_demo --services 1000, in a throw-away database, see _harness.py) and
through the same Django stack (middleware, token authentication, pagination, rendering), it measures
requests per second of:

* the API: ``GET /api/v1/services/?page_size=1000`` (plain rows + orjson);
* the baseline: a ``ListAPIView`` with a ``ModelSerializer`` (owner as its code, readiness nested)
  over ``select_related`` rows and DRF's JSON renderer, written below as a team would write it first;
* the floor: one raw SQL query for the same columns, rows turned into dicts and dumped with orjson
  (no HTTP, no Django request at all).

Targets (issue 4): the API at least 3× the baseline's throughput, and within 3× of the floor.
Run alone: ``DEBUG=1 .venv/bin/python benchmarks/api_list.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import child_json, prepare

SERVICES = 1_000

MEASURE = r'''
import gc, json, sys, time
import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import override_settings
from django.urls import include, path
from rest_framework import generics, serializers
from rest_framework.authtoken.models import Token
from rest_framework.renderers import JSONRenderer

from migration_app.api.pagination import PagePagination
from migration_app.models import Service, ServiceReadiness

settings.DEBUG = False  # no query log: measure the work, not the debug cursor


class BaselineReadiness(serializers.ModelSerializer):
    class Meta:
        model = ServiceReadiness
        fields = ["state", "score", "detail", "computed_at"]


class BaselineService(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="code", read_only=True)
    readiness = BaselineReadiness(read_only=True)

    class Meta:
        model = Service
        fields = [
            "id", "service_code", "edition_code", "owner", "owner_id", "name_nb", "name_en", "edition_name",
            "service_type", "valid_from", "valid_to", "yearly_volume", "criticality", "target",
            "altinn3_reference", "status", "status_changed_at", "planned_start", "target_date", "actual_start",
            "actual_done", "contact_name", "contact_email", "notes", "version", "created_at", "updated_at",
            "readiness",
        ]


class BaselineList(generics.ListAPIView):
    queryset = Service.objects.select_related("owner", "readiness").order_by("service_code", "edition_code")
    serializer_class = BaselineService
    pagination_class = PagePagination
    renderer_classes = [JSONRenderer]


urlpatterns = [
    path("bench/baseline/", BaselineList.as_view()),
    path("api/", include("migration_app.api.urls")),
]

FLOOR_SQL = """
SELECT s.id, s.service_code, s.edition_code, o.code, s.owner_id, s.name_nb, s.name_en, s.edition_name,
       s.service_type, s.valid_from, s.valid_to, s.yearly_volume, s.criticality, s.target, s.altinn3_reference,
       s.status, s.status_changed_at, s.planned_start, s.target_date, s.actual_start, s.actual_done,
       s.contact_name, s.contact_email, s.notes, s.version, s.created_at, s.updated_at,
       r.state, r.score, r.detail, r.computed_at
FROM migration_app_service s
JOIN migration_app_serviceowner o ON o.id = s.owner_id
LEFT JOIN migration_app_servicereadiness r ON r.service_id = s.id
ORDER BY s.service_code, s.edition_code
LIMIT 1000
"""
FLOOR_COLUMNS = [
    "id", "service_code", "edition_code", "owner", "owner_id", "name_nb", "name_en", "edition_name",
    "service_type", "valid_from", "valid_to", "yearly_volume", "criticality", "target", "altinn3_reference",
    "status", "status_changed_at", "planned_start", "target_date", "actual_start", "actual_done",
    "contact_name", "contact_email", "notes", "version", "created_at", "updated_at",
    "readiness_state", "readiness_score", "readiness_detail", "readiness_computed_at",
]
DETAIL = FLOOR_COLUMNS.index("readiness_detail")


def floor():
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL)
        rows = cursor.fetchall()
    out = []
    for row in rows:
        item = dict(zip(FLOOR_COLUMNS, row))
        detail = row[DETAIL]
        if isinstance(detail, str):  # SQLite hands JSON back as text; psycopg decodes jsonb itself
            item["readiness_detail"] = orjson.loads(detail)
        out.append(item)
    return orjson.dumps({"count": len(out), "results": out})


user = get_user_model().objects.get(username="leder")
token = Token.objects.get_or_create(user=user)[0].key
client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {token}")


def api():
    response = client.get("/api/v1/services/", {"page_size": 1000})
    assert response.status_code == 200, response.content[:300]
    return response.content


def baseline():
    response = client.get("/bench/baseline/", {"page_size": 1000})
    assert response.status_code == 200, response.content[:300]
    return response.content


def rate(fn, seconds=ROUND_SECONDS, rounds=3):
    """Requests per second: the best of a few rounds of back-to-back calls."""
    fn()
    best = 0.0
    for _ in range(rounds):
        gc.collect()
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            fn()
            count += 1
        best = max(best, count / elapsed)
    return best


with override_settings(ROOT_URLCONF=sys.modules[__name__]):
    sizes = {
        "floor": len(json.loads(floor())["results"]),
        "api": len(json.loads(api())["results"]),
        "baseline": len(json.loads(baseline())["results"]),
    }
    assert set(sizes.values()) == {1000}, sizes
    result = {"floor": rate(floor), "api": rate(api), "baseline": rate(baseline), "vendor": connection.vendor}
print(json.dumps(result))
'''


def main(round_seconds: float = 2.0) -> list[str]:
    env = prepare("api-1k", SERVICES)
    r = child_json(env, MEASURE.replace("ROUND_SECONDS", repr(round_seconds)))
    lines = [
        f"api_list: {SERVICES:,} services in one page, requests/s (best of 3 rounds, {r['vendor']})",
        f"  floor (one raw SQL query + orjson)   {r['floor']:8.1f}/s",
        f"  API GET /api/v1/services/            {r['api']:8.1f}/s",
        f"  baseline ModelSerializer ListAPIView {r['baseline']:8.1f}/s",
        f"  API / baseline = {r['api'] / r['baseline']:.2f} (target ≥ 3)   "
        f"floor / API = {r['floor'] / r['api']:.2f} (target ≤ 3)",
    ]
    for line in lines:
        print(line, flush=True)
    return lines


if __name__ == "__main__":
    main()
