"""CI's own guard: with REQUIRE_SERVICES=1 the suite must really be running on PostgreSQL and Redis."""

import pytest
from django.db import connection

from tests.conftest import redis_available, require_service


@pytest.mark.django_db
def test_database_is_postgresql_when_services_are_required():
    require_service("PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL to a postgres:// URL")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        assert cursor.fetchone()[0] >= 130000


def test_redis_broker_answers_when_services_are_required():
    require_service("Redis", redis_available(), "set REDIS_URL")
