"""The lifecycle: every allowed transition, a sample of refused ones, history rows and version bumps."""

import datetime
import itertools

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from migration_app.choices import STATUS_ORDER
from migration_app.choices import MigrationStatus as S
from migration_app.engine.lifecycle import FORWARD_ORDER, TERMINAL_OUTCOMES, allowed_targets, check_transition
from migration_app.models import Service, StatusChange
from migration_app.services.catalog import service_change_status
from migration_app.services.checks import StaleVersionError
from tests.factories import ServiceFactory

FORWARD_STEPS = list(itertools.pairwise(FORWARD_ORDER))
OPEN = [S.NOT_STARTED, S.ANALYSIS, S.DEVELOPMENT, S.TESTING, S.IN_PRODUCTION]
BACKWARD_STEPS = [(a, b) for i, a in enumerate(OPEN) for b in OPEN[:i]]
RESOLUTIONS = [(a, t) for a in OPEN for t in (S.DECOMMISSIONED, S.REIMPLEMENTED_ELSEWHERE)]
REOPENINGS = [(t, r) for t in (S.DECOMMISSIONED, S.REIMPLEMENTED_ELSEWHERE) for r in (S.NOT_STARTED, S.ANALYSIS)]
REFUSED = [
    (S.NOT_STARTED, S.DEVELOPMENT, "one step at a time"),
    (S.NOT_STARTED, S.IN_PRODUCTION, "one step at a time"),
    (S.ANALYSIS, S.ALTINN2_CLOSED, "one step at a time"),
    (S.TESTING, S.TESTING, "already in that status"),
    (S.ALTINN2_CLOSED, S.IN_PRODUCTION, "final"),
    (S.ALTINN2_CLOSED, S.DECOMMISSIONED, "final"),
    (S.DECOMMISSIONED, S.DEVELOPMENT, "reopened"),
    (S.REIMPLEMENTED_ELSEWHERE, S.DECOMMISSIONED, "reopened"),
]


def make_service(status: str) -> Service:
    return ServiceFactory(status=status)


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), FORWARD_STEPS + RESOLUTIONS)
def test_allowed_transition_moves_status_bumps_version_and_writes_history(from_status, to_status, editor, owner):
    service = ServiceFactory(status=from_status, owner=owner)
    service_change_status(service=service, to_status=to_status, user=editor, comment="Steg ferdig")

    service.refresh_from_db()
    assert service.status == to_status
    assert service.version == 2
    (change,) = StatusChange.objects.filter(service=service)
    assert (change.from_status, change.to_status, change.changed_by, change.comment) == (
        from_status,
        to_status,
        editor,
        "Steg ferdig",
    )
    assert change.changed_at == service.status_changed_at


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), BACKWARD_STEPS + REOPENINGS)
def test_moving_back_is_allowed_only_with_a_comment(from_status, to_status):
    service = make_service(from_status)
    with pytest.raises(ValidationError) as excinfo:
        service_change_status(service=service, to_status=to_status, comment="  ")
    assert "comment" in excinfo.value.message_dict
    assert not StatusChange.objects.exists()

    service_change_status(service=service, to_status=to_status, comment="Feil i produksjon, tilbake til test")
    assert Service.objects.get(pk=service.pk).status == to_status


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status", "reason"), REFUSED)
def test_illegal_transition_is_refused_naming_both_states(from_status, to_status, reason):
    service = make_service(from_status)
    with pytest.raises(ValidationError) as excinfo:
        service_change_status(service=service, to_status=to_status, comment="forsøk")
    message = excinfo.value.message_dict["status"][0]
    assert f"“{S(from_status).label}”" in message
    assert f"“{S(to_status).label}”" in message
    assert reason in message
    service.refresh_from_db()
    assert (service.status, service.version) == (from_status, 1)
    assert not StatusChange.objects.exists()


def test_allowed_targets_agree_with_check_transition():
    for from_status in S.values:
        for to_status in S.values:
            assert (to_status in allowed_targets(from_status)) == check_transition(from_status, to_status).allowed


@pytest.mark.django_db
def test_a_full_journey_leaves_a_complete_timeline_and_dates():
    service = make_service(S.NOT_STARTED)
    start = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)
    for day, status in enumerate(FORWARD_ORDER[1:]):
        service_change_status(service=service, to_status=status, at=start + datetime.timedelta(days=7 * day))
    service.refresh_from_db()
    assert service.status == S.ALTINN2_CLOSED
    assert service.version == len(FORWARD_ORDER)
    assert service.actual_start == datetime.date(2026, 1, 5)
    assert service.actual_done == datetime.date(2026, 1, 26)  # the day it reached production
    timeline = list(StatusChange.objects.filter(service=service).order_by("changed_at"))
    assert [c.to_status for c in timeline] == list(FORWARD_ORDER[1:])


@pytest.mark.django_db
def test_stale_version_is_refused_and_changes_nothing():
    service = make_service(S.ANALYSIS)
    with pytest.raises(StaleVersionError):
        service_change_status(service=service, to_status=S.DEVELOPMENT, expected_version=7)
    service.refresh_from_db()
    assert (service.status, service.version) == (S.ANALYSIS, 1)


@pytest.mark.django_db
def test_viewers_and_other_organisations_cannot_change_status(viewer, other_owner, owner):
    from tests.factories import MembershipFactory, UserFactory

    outsider = MembershipFactory(user=UserFactory(username="outsider"), owner=other_owner).user
    service = ServiceFactory(owner=owner)
    for user in (viewer, outsider):
        with pytest.raises(PermissionDenied):
            service_change_status(service=service, to_status=S.ANALYSIS, user=user)
    assert Service.objects.get(pk=service.pk).status == S.NOT_STARTED


@pytest.mark.django_db
def test_project_leads_change_any_organisation(lead, other_owner):
    service = ServiceFactory(owner=other_owner)
    service_change_status(service=service, to_status=S.ANALYSIS, user=lead)
    assert Service.objects.get(pk=service.pk).status == S.ANALYSIS


def test_the_one_status_order_is_the_forward_steps_then_the_resolutions():
    # Lists, filters, charts and figures all show statuses in choices.STATUS_ORDER.
    assert (*FORWARD_ORDER, *sorted(TERMINAL_OUTCOMES)) == STATUS_ORDER
    assert allowed_targets(S.NOT_STARTED) == [S.ANALYSIS, S.DECOMMISSIONED, S.REIMPLEMENTED_ELSEWHERE]
