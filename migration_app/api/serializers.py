"""Representations and input validation. Serializers validate and describe (the OpenAPI schema is
generated from them); every write they lead to goes through ``services``.

The service representation is built by one plain function, ``service_representation``, from one row
of ``SERVICE_COLUMNS``. The list reads those columns with ``values_list`` (no model instances: a page of
1,000 services is the API's hot path) and a single object is turned into the same row, so a service
looks the same in a list, alone, in a 412 and after a write.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from ..choices import MigrationStatus, ReadinessState
from ..engine.codec import readiness_detail_json, status_figures_decode
from ..engine.readiness import BlockerKind
from ..models import (
    CAPABILITY_EDITABLE_FIELDS,
    MILESTONE_EDITABLE_FIELDS,
    OWNER_EDITABLE_FIELDS,
    SERVICE_EDITABLE_FIELDS,
    Dependency,
    Milestone,
    PlatformCapability,
    ProgressSnapshot,
    Service,
    ServiceOwner,
    StatusChange,
)
from ..selectors.access import user_can_edit_owner
from ..validators import validate_dependency_target


def utc_iso(value: datetime.datetime | None) -> str | None:
    """A datetime as ISO 8601 in UTC with a ``Z``, as DRF writes it for a field in UTC.

    A naive datetime is UTC: that is what the list's raw rows hold on SQLite (raw_rows),
    where Django stores every datetime as naive UTC.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        return value.isoformat() + "Z"
    if value.tzinfo is not datetime.UTC:  # the database hands UTC back already: skip the conversion
        value = value.astimezone(datetime.UTC)
    return value.isoformat()[:-6] + "Z"  # "+00:00" → "Z"


def iso_date(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


class UTCDateTimeField(serializers.DateTimeField):
    """Datetimes in and out in UTC (``...Z``); an input without an offset is read as UTC."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", datetime.UTC)
        super().__init__(**kwargs)


# The tracker's e-mail and URL fields may be empty; plain "format: email" would declare "" invalid.
@extend_schema_field({"anyOf": [{"type": "string", "format": "email"}, {"type": "string", "enum": [""]}]})
class OptionalEmailField(serializers.EmailField):
    """An e-mail address, or empty."""


@extend_schema_field({"anyOf": [{"type": "string", "format": "uri"}, {"type": "string", "enum": [""]}]})
class OptionalURLField(serializers.URLField):
    """A URL, or empty."""


class TrackerModelSerializer(serializers.ModelSerializer):
    """ModelSerializer with every datetime in UTC, so the API never depends on the server's time zone,
    and e-mail and URL fields documented as "or empty" (every one of them is optional)."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping}
    serializer_field_mapping[models.DateTimeField] = UTCDateTimeField
    serializer_field_mapping[models.EmailField] = OptionalEmailField
    serializer_field_mapping[models.URLField] = OptionalURLField


def _request_user(serializer: serializers.Serializer) -> Any:
    request = serializer.context.get("request")
    return request.user if request is not None else None


# --- Readiness (stored by the recompute) ----------------------------------------------------------------


class ScorePartSerializer(serializers.Serializer):
    label = serializers.CharField(help_text=_("lifecycle progress, planning complete or dependencies met"))
    points = serializers.IntegerField()


class BlockerSerializer(serializers.Serializer):
    """One reason a service cannot move yet (see engine.readiness.Blocker)."""

    kind = serializers.ChoiceField(
        choices=[BlockerKind.CAPABILITY, BlockerKind.SERVICE, BlockerKind.PLANNING, BlockerKind.CYCLE]
    )
    capability_id = serializers.IntegerField(allow_null=True)
    capability_key = serializers.CharField(allow_blank=True)
    planned_date = serializers.DateField(allow_null=True)
    service_id = serializers.IntegerField(allow_null=True)
    owner_id = serializers.IntegerField(allow_null=True)
    path = serializers.ListField(
        child=serializers.IntegerField(),
        help_text=_("Services between this one and the blocker, nearest first; empty when direct."),
    )
    missing = serializers.CharField(allow_blank=True, help_text=_('For planning blockers: "target" or "target_date".'))


class ReadinessSerializer(serializers.Serializer):
    """Whether a service can move now, why not, and a 0–100 score that shows its working."""

    state = serializers.ChoiceField(choices=ReadinessState.choices)
    score = serializers.IntegerField(min_value=0, max_value=100)
    parts = ScorePartSerializer(many=True)
    blockers = BlockerSerializer(many=True, help_text=_("At most 20 dependency blockers, nearest first."))
    capability_blocker_count = serializers.IntegerField()
    service_blocker_count = serializers.IntegerField()
    computed_at = UTCDateTimeField()


def readiness_representation(
    state: str, score: int, detail: Mapping[str, Any] | str | None, computed_at: datetime.datetime | None
) -> dict[str, Any]:
    """The stored verdict (ServiceReadiness) as the API shows it; ``detail`` as a dict or JSON text."""
    stored = readiness_detail_json(detail)
    return {
        "state": state,
        "score": score,
        "parts": [{"label": label, "points": points} for label, points in stored["parts"]],
        "blockers": stored["blockers"],
        "capability_blocker_count": stored["capability_blocker_count"],
        "service_blocker_count": stored["service_blocker_count"],
        "computed_at": utc_iso(computed_at),
    }


# --- Services --------------------------------------------------------------------------------------------

# What a service representation is made of, as one flat row: the list reads exactly these columns. The
# editable fields come from the one list that forms, the admin and the importers use as well.
SERVICE_KEY_COLUMNS: tuple[str, ...] = ("id", "service_code", "edition_code", "owner__code", "owner_id")
SERVICE_STATE_COLUMNS: tuple[str, ...] = ("status", "status_changed_at", "version", "created_at", "updated_at")
SERVICE_READINESS_COLUMNS: tuple[str, ...] = (
    "readiness__state",
    "readiness__score",
    "readiness__detail",
    "readiness__computed_at",
)
# The representation's key order (a client may show it as it comes): the status after the migration target.
_PLAN_END = SERVICE_EDITABLE_FIELDS.index("altinn3_reference") + 1
SERVICE_FIELD_ORDER: tuple[str, ...] = (
    *SERVICE_KEY_COLUMNS,
    *SERVICE_EDITABLE_FIELDS[:_PLAN_END],
    *SERVICE_STATE_COLUMNS[:2],
    *SERVICE_EDITABLE_FIELDS[_PLAN_END:],
    *SERVICE_STATE_COLUMNS[2:],
)
SERVICE_COLUMNS: tuple[str, ...] = (*SERVICE_FIELD_ORDER, *SERVICE_READINESS_COLUMNS)
# How each column is written in JSON when it is not written as it is.
_SERVICE_COLUMN_KEYS = {"owner__code": "owner"}
_SERVICE_PLAIN = len(SERVICE_COLUMNS) - len(SERVICE_READINESS_COLUMNS)
_SERVICE_FIELDS = {
    column: Service._meta.get_field(column) for column in SERVICE_COLUMNS[:_SERVICE_PLAIN] if "__" not in column
}
_SERVICE_DATETIMES = frozenset(c for c, f in _SERVICE_FIELDS.items() if isinstance(f, models.DateTimeField))
_SERVICE_DATES = (
    frozenset(c for c, f in _SERVICE_FIELDS.items() if isinstance(f, models.DateField)) - _SERVICE_DATETIMES
)
_SERVICE_WRITERS: tuple[tuple[str, Any], ...] = tuple(
    (
        _SERVICE_COLUMN_KEYS.get(column, column),
        utc_iso if column in _SERVICE_DATETIMES else iso_date if column in _SERVICE_DATES else None,
    )
    for column in SERVICE_COLUMNS[:_SERVICE_PLAIN]
)


def service_representation(row: Sequence[Any]) -> dict[str, Any]:
    """One service as the API shows it, from a row of SERVICE_COLUMNS: model values (``service_row``)
    or the driver's own (``raw_rows``: naive UTC datetimes on SQLite, JSON as text), with
    the same result."""
    out = {
        key: value if write is None else write(value)
        for (key, write), value in zip(_SERVICE_WRITERS, row, strict=False)
    }
    readiness_state, readiness_score, readiness_detail, readiness_computed_at = row[_SERVICE_PLAIN:]
    out["readiness"] = (
        None
        if readiness_state is None
        else readiness_representation(readiness_state, readiness_score, readiness_detail, readiness_computed_at)
    )
    return out


def service_row(service: Service) -> tuple[Any, ...]:
    """A loaded Service as a row of SERVICE_COLUMNS (its owner and readiness are read if not joined)."""
    try:
        readiness = service.readiness
    except ObjectDoesNotExist:
        readiness = None
    row: list[Any] = []
    for column in SERVICE_COLUMNS:
        if column == "owner__code":
            row.append(service.owner.code)
        elif column.startswith("readiness__"):
            row.append(getattr(readiness, column.removeprefix("readiness__")) if readiness is not None else None)
        else:
            row.append(getattr(service, column))
    return tuple(row)


class ServiceSerializer(TrackerModelSerializer):
    """A service edition with its migration plan, lifecycle status and stored readiness.

    ``status`` changes only through ``/transition/``. On a write, ``version`` names the version being
    changed (an alternative to If-Match); ``owner`` is the organisation's code.
    """

    owner = serializers.SlugRelatedField(
        slug_field="code",
        queryset=ServiceOwner.objects.all(),
        help_text=_("The owning organisation's code, e.g. 'skd'."),
    )
    owner_id = serializers.IntegerField(read_only=True)
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_("Bumped on every change. On a write: the version you are changing, if you send no If-Match."),
    )
    readiness = ReadinessSerializer(read_only=True, allow_null=True, help_text=_("Null until the first recompute."))

    class Meta:
        model = Service
        fields = [*(_SERVICE_COLUMN_KEYS.get(c, c) for c in SERVICE_FIELD_ORDER), "readiness"]
        read_only_fields = ["service_code", "edition_code", "status", "status_changed_at", "created_at", "updated_at"]
        # The natural key is checked by services.service_create, race-free; an owner's edit rights too.
        validators: list[Any] = []

    def validate_owner(self, owner: ServiceOwner) -> ServiceOwner:
        user = _request_user(self)
        if user is not None and not user_can_edit_owner(user, owner.pk):
            # 403, not 400: the request is well-formed, the user may not write for that organisation.
            raise exceptions.PermissionDenied(_("You may only create or move services for your own organisation."))
        return owner

    def to_representation(self, instance: Service) -> dict[str, Any]:
        return service_representation(service_row(instance))


class ServiceCreateSerializer(ServiceSerializer):
    """A new service edition: its Altinn II key is given once and never changes afterwards."""

    class Meta(ServiceSerializer.Meta):
        read_only_fields = ["status", "status_changed_at", "created_at", "updated_at"]
        extra_kwargs = {"service_code": {"required": True}, "edition_code": {"required": True}}


class TransitionSerializer(serializers.Serializer):
    """A move through the lifecycle; moving back needs a comment explaining why."""

    status = serializers.ChoiceField(choices=MigrationStatus.choices)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    version = serializers.IntegerField(
        required=False, min_value=1, help_text=_("The version you are changing, if you send no If-Match.")
    )


# --- Reference data and edges -------------------------------------------------------------------------


class OwnerSerializer(TrackerModelSerializer):
    """A service-owning organisation, keyed by its lower-case Altinn 3 org code."""

    class Meta:
        model = ServiceOwner
        fields = ["id", *OWNER_EDITABLE_FIELDS, "created_at", "updated_at"]


class CapabilitySerializer(TrackerModelSerializer):
    """An Altinn 3 platform capability on Digdir's roadmap. Moving to "delivered" without a delivered
    date records today; moving away from it clears the date."""

    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_("Bumped on every change. On a write: the version you are changing, if you send no If-Match."),
    )

    class Meta:
        model = PlatformCapability
        fields = ["id", *CAPABILITY_EDITABLE_FIELDS, "version", "updated_at"]


class MilestoneSerializer(TrackerModelSerializer):
    """A programme date. Marking one as the deadline unmarks the previous deadline."""

    class Meta:
        model = Milestone
        fields = ["id", *MILESTONE_EDITABLE_FIELDS]
        # One deadline at a time is kept by services.milestone_save, which moves the mark.
        validators: list[Any] = []


class DependencySerializer(TrackerModelSerializer):
    """An edge: ``service`` needs exactly one other service or one capability, hard (blocking) or soft."""

    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.all())
    depends_on_service = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.all(), allow_null=True, required=False
    )
    depends_on_capability = serializers.PrimaryKeyRelatedField(
        queryset=PlatformCapability.objects.all(), allow_null=True, required=False
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_("Bumped on every change. On a write: the version you are changing, if you send no If-Match."),
    )

    class Meta:
        model = Dependency
        fields = [
            "id",
            "service",
            "depends_on_service",
            "depends_on_capability",
            "strength",
            "note",
            "version",
            "created_at",
        ]
        # Duplicate edges and cycles are refused by services.dependency_add, under its lock.
        validators: list[Any] = []

    def validate_service(self, service: Service) -> Service:
        user = _request_user(self)
        if user is not None and not user_can_edit_owner(user, service.owner_id):
            raise exceptions.PermissionDenied(_("You may only add dependencies to your own organisation's services."))
        return service

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        validate_dependency_target(attrs.get("depends_on_service"), attrs.get("depends_on_capability"))
        return attrs


class DependencyUpdateSerializer(DependencySerializer):
    """An edge's strength and note; to point it elsewhere, delete it and add another."""

    service = serializers.PrimaryKeyRelatedField(read_only=True)
    depends_on_service = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    depends_on_capability = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return attrs


# --- History and snapshots ---------------------------------------------------------------------------


class StatusChangeSerializer(TrackerModelSerializer):
    """One status change, as written in the same transaction as the change; never edited."""

    service_code = serializers.CharField(source="service.service_code", read_only=True)
    edition_code = serializers.IntegerField(source="service.edition_code", read_only=True)
    owner = serializers.CharField(source="service.owner.code", read_only=True)
    changed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = StatusChange
        fields = [
            "id",
            "service",
            "service_code",
            "edition_code",
            "owner",
            "from_status",
            "to_status",
            "changed_by",
            "changed_at",
            "comment",
        ]
        read_only_fields = fields


class StatusFiguresSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    volume = serializers.IntegerField()


class ProgressSnapshotSerializer(TrackerModelSerializer):
    """Progress figures of one day for one scope (overall, an owner by code, a service type)."""

    by_status = serializers.SerializerMethodField(help_text=_("Per lifecycle status: count and yearly volume."))

    class Meta:
        model = ProgressSnapshot
        fields = [
            "day",
            "scope",
            "scope_key",
            "total_count",
            "done_count",
            "migrated_count",
            "total_volume",
            "done_volume",
            "migrated_volume",
            "by_status",
            "taken_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=StatusFiguresSerializer()))
    def get_by_status(self, instance: ProgressSnapshot) -> dict[str, dict[str, int]]:
        # Stored compactly (engine.codec); named fields read better in a script.
        return {
            status: {"count": count, "volume": volume}
            for status, (count, volume) in status_figures_decode(instance.by_status).items()
        }


# --- Readiness of one service, errors ------------------------------------------------------------------


class ServiceReadinessSerializer(serializers.Serializer):
    """A service's stored readiness with the portfolio's freshness."""

    service_id = serializers.IntegerField()
    readiness = ReadinessSerializer(allow_null=True)
    computed_at = UTCDateTimeField(allow_null=True, help_text=_("When the portfolio was last recomputed."))
    fresh = serializers.BooleanField(help_text=_("False when the catalog has changed since; a recompute is queued."))


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class StaleServiceSerializer(serializers.Serializer):
    """412: the change was made against an older version; ``current`` is what is stored now."""

    detail = serializers.CharField()
    current = ServiceSerializer()


class StaleDependencySerializer(serializers.Serializer):
    """412: the change was made against an older version; ``current`` is what is stored now."""

    detail = serializers.CharField()
    current = DependencySerializer()


class StaleCapabilitySerializer(serializers.Serializer):
    """412: the change was made against an older version; ``current`` is what is stored now."""

    detail = serializers.CharField()
    current = CapabilitySerializer()
