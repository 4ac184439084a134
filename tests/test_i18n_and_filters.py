"""The name in the active language (``i18n``), the catalog FilterSet's meaning without the page's widgets,
and the programme's burn-up from the selectors."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from migration_app.filters import ServiceFilterSet
from migration_app.i18n import localized_name
from migration_app.models import ProgressSnapshot, ServiceOwner
from migration_app.selectors.programme import programme_burnup
from tests.factories import ServiceFactory

# --- The name in the active language ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "name_en", "expected"),
    [("en", "Tax Administration", "Tax Administration"), ("en", "", "Skatteetaten"), ("nb", "Tax", "Skatteetaten")],
)
def test_localized_name_reads_english_only_in_english_and_falls_back_to_bokmal(language, name_en, expected):
    owner = ServiceOwner(code="skd", name_nb="Skatteetaten", name_en=name_en)
    with translation.override(language):
        assert localized_name(owner) == expected
        assert Template("{% load tracker %}{{ owner|display_name }}").render(Context({"owner": owner})) == expected


def test_display_name_of_nothing_is_empty():
    assert Template("{% load tracker %}[{{ missing|display_name }}]").render(Context({})) == "[]"


# --- One FilterSet, the page's controls in its form ----------------------------------------------------


def test_the_shared_filterset_declares_no_widgets():
    assert [name for name, f in ServiceFilterSet.base_filters.items() if "widget" in f.extra] == []


def test_empty_api_parameters_mean_no_filter(client, viewer, owner):
    ServiceFactory(owner=owner)
    ServiceFactory(owner=owner)
    client.force_login(viewer)
    empty = dict.fromkeys(("owner", "type", "status", "readiness", "capability"), "")
    response = client.get("/api/v1/services/", empty, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["count"] == 2


# --- The burn-up -----------------------------------------------------------------------------------------


def test_no_burnup_before_the_first_snapshot(db, django_assert_num_queries):
    with django_assert_num_queries(1):  # the snapshots; no deadline needed without them
        assert programme_burnup(forecast=None) is None


def test_burnup_samples_weeks_back_from_today_and_runs_on_to_the_forecast(db, django_assert_num_queries):
    today = timezone.localdate()
    for back in range(15, -1, -1):
        ProgressSnapshot.objects.create(
            day=today - datetime.timedelta(days=back),
            scope=ProgressSnapshot.Scope.OVERALL,
            scope_key="",
            total_count=10,
            done_count=15 - back,
            migrated_count=0,
            total_volume=100,
            done_volume=0,
            migrated_volume=0,
            taken_at=timezone.now(),
        )
    p85 = max(today + datetime.timedelta(days=30), datetime.date(2026, 5, 31))
    # The snapshots, then the deadline.
    with django_assert_num_queries(2):
        burnup = programme_burnup(forecast=SimpleNamespace(p50_date=None, p85_date=p85))
    assert burnup is not None
    assert [week.day for week in burnup.weeks] == [today - datetime.timedelta(days=d) for d in (14, 7, 0)]
    assert burnup.weeks[-1].done_count == 15
    assert burnup.days[: len(burnup.weeks)] == tuple(week.day for week in burnup.weeks)
    assert burnup.days[-1] >= p85 > burnup.days[-2]
    assert burnup.p85 == p85 and burnup.p50 is None
