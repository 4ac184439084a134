"""Engine results over HTTP: leverage, waves, progress (now and daily), forecast and slip impact.

Everything but slip impact is read from what the last recompute stored (``PortfolioResult``,
``ProgressSnapshot``): a fixed, small number of queries, never a computation per request. Each answer
says when it was computed and whether the catalog has changed since (``fresh``). Slip impact depends
on the question asked, so it is computed live from ``portfolio_load()`` and the pure engine.

Stored results key owners and capabilities by id; the API keys them by org code and capability key,
the identifiers scripts and the other endpoints' filters use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ..engine.codec import ForecastJSON, forecast_json, leverage_json, progress_json, waves_json
from ..engine.leverage import slip_impact
from ..engine.portfolio import build_portfolio
from ..engine.progress import ForecastStatus
from ..engine.readiness import BlockerKind
from ..models import PortfolioResult, ProgressSnapshot
from ..selectors.catalog import capability_keys_load
from ..selectors.engine_inputs import owner_codes_load, portfolio_load
from ..selectors.results import EngineResult, engine_result_load
from .filters import ProgressSnapshotFilterSet
from .pagination import ResultPagination
from .serializers import ProgressSnapshotSerializer, UTCDateTimeField, utc_iso

T = TypeVar("T")

# --- What the stored results look like (for validation of the query and for the schema) -------------


class FreshnessMixin(serializers.Serializer):
    computed_at = UTCDateTimeField(
        allow_null=True, help_text=_("When the stored result was computed; null before the first recompute.")
    )
    revision = serializers.IntegerField(
        allow_null=True, help_text=_("The catalog revision the result was computed from.")
    )
    fresh = serializers.BooleanField(help_text=_("False when the catalog has changed since; a recompute is queued."))


class LeverageRowSerializer(serializers.Serializer):
    """What one undelivered capability or one open service holds back (engine.leverage.LeverageRow)."""

    kind = serializers.ChoiceField(choices=[BlockerKind.CAPABILITY, BlockerKind.SERVICE])
    capability_id = serializers.IntegerField(allow_null=True)
    capability_key = serializers.CharField(allow_blank=True)
    planned_date = serializers.DateField(allow_null=True)
    service_id = serializers.IntegerField(allow_null=True)
    owner_id = serializers.IntegerField(allow_null=True)
    direct_count = serializers.IntegerField()
    direct_volume = serializers.IntegerField()
    transitive_count = serializers.IntegerField()
    transitive_volume = serializers.IntegerField()
    unblocks_count = serializers.IntegerField()
    unblocks_volume = serializers.IntegerField()


class WaveSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    service_ids = serializers.ListField(child=serializers.IntegerField())
    yearly_volume = serializers.IntegerField()


class WavesSerializer(FreshnessMixin):
    """A suggested order of the open services (engine.waves.WavePlan)."""

    waves = WaveSerializer(many=True)
    cycle_service_ids = serializers.ListField(child=serializers.IntegerField())
    behind_cycle_service_ids = serializers.ListField(child=serializers.IntegerField())


class ProgressFiguresSerializer(serializers.Serializer):
    """Counts and yearly volume per status for one scope, and the share done (0–100)."""

    count_by_status = serializers.DictField(child=serializers.IntegerField())
    volume_by_status = serializers.DictField(child=serializers.IntegerField())
    total_count = serializers.IntegerField()
    total_volume = serializers.IntegerField()
    done_count = serializers.IntegerField()
    done_volume = serializers.IntegerField()
    migrated_count = serializers.IntegerField()
    migrated_volume = serializers.IntegerField()
    pct_done_count = serializers.FloatField()
    pct_done_volume = serializers.FloatField()


class ProgressSerializer(FreshnessMixin):
    """Progress now: overall, per owner (by code), per service type and per capability (by key)."""

    overall = ProgressFiguresSerializer(allow_null=True)
    by_owner = serializers.DictField(child=ProgressFiguresSerializer())
    by_service_type = serializers.DictField(child=ProgressFiguresSerializer())
    by_capability = serializers.DictField(child=ProgressFiguresSerializer())
    overdue_service_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("Open services past their target date, most overdue first.")
    )


class WeekCountSerializer(serializers.Serializer):
    week = serializers.CharField(help_text=_("ISO week, e.g. 2026-W22."))
    count = serializers.IntegerField()


class ForecastFiguresSerializer(serializers.Serializer):
    """When the open services will be done if the coming weeks look like the past ones."""

    status = serializers.ChoiceField(
        choices=[
            ForecastStatus.ON_TRACK,
            ForecastStatus.AT_RISK,
            ForecastStatus.LATE,
            ForecastStatus.DONE,
            ForecastStatus.NO_DATA,
        ]
    )
    open_count = serializers.IntegerField()
    today = serializers.DateField()
    deadline = serializers.DateField()
    weekly_throughput = WeekCountSerializer(many=True)
    mean_weekly_throughput = serializers.FloatField()
    p50_date = serializers.DateField(allow_null=True)
    p85_date = serializers.DateField(allow_null=True)


class ForecastSerializer(FreshnessMixin):
    """The forecast overall and per owner (by code); both empty while no deadline milestone exists."""

    overall = ForecastFiguresSerializer(allow_null=True)
    by_owner = serializers.DictField(child=ForecastFiguresSerializer())


class SlipImpactQuerySerializer(serializers.Serializer):
    """Exactly one of ``capability`` and ``service`` (ids); ``new_date`` lists who would miss a target."""

    capability = serializers.IntegerField(required=False, min_value=1)
    service = serializers.IntegerField(required=False, min_value=1)
    new_date = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("capability" in attrs) == ("service" in attrs):
            raise serializers.ValidationError(_("Give exactly one of capability and service."))
        return attrs


class OwnerImpactSerializer(serializers.Serializer):
    owner_id = serializers.IntegerField()
    owner = serializers.CharField(help_text=_("The organisation's code."))
    service_count = serializers.IntegerField()
    yearly_volume = serializers.IntegerField()


class SlipImpactSerializer(serializers.Serializer):
    """Who is hit if the capability or service comes later than planned; computed live per request."""

    capability_id = serializers.IntegerField(allow_null=True)
    service_id = serializers.IntegerField(allow_null=True)
    new_date = serializers.DateField(allow_null=True)
    direct_service_ids = serializers.ListField(child=serializers.IntegerField())
    service_ids = serializers.ListField(child=serializers.IntegerField())
    yearly_volume = serializers.IntegerField()
    owners = OwnerImpactSerializer(many=True)
    misses_target_ids = serializers.ListField(child=serializers.IntegerField())
    computed_at = UTCDateTimeField(help_text=_("Now: slip impact is computed live from the current catalog."))


# --- Views ---------------------------------------------------------------------------------------------


def _meta(result: EngineResult) -> dict[str, Any]:
    return {"computed_at": utc_iso(result.computed_at), "revision": result.revision, "fresh": result.fresh}


def _by_code(by_id: Mapping[int, T], codes: Mapping[int, str]) -> dict[str, T]:
    """An {id: value} map keyed by code instead (the id when the code is unknown)."""
    return {codes.get(key, str(key)): value for key, value in by_id.items()}


class StoredResultView(generics.GenericAPIView):
    """Base: a single stored result, no pagination and no filters."""

    pagination_class = None
    filter_backends: list[Any] = []


class LeverageView(generics.GenericAPIView):
    """The project leads' priority list: every blocker that holds back at least one service, the most
    transitive yearly volume first. Paged like every list; ``?kind=capability`` or ``?kind=service``."""

    serializer_class = LeverageRowSerializer
    pagination_class = ResultPagination
    filter_backends: list[Any] = []
    has_query_parameters = True

    @extend_schema(
        summary="Leverage: what to unblock first",
        parameters=[OpenApiParameter("kind", OpenApiTypes.STR, enum=[BlockerKind.CAPABILITY, BlockerKind.SERVICE])],
        responses=LeverageRowSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        kind = request.query_params.get("kind")
        if kind not in (None, BlockerKind.CAPABILITY, BlockerKind.SERVICE):
            raise exceptions.ValidationError({"kind": [_("Use capability or service.")]})
        result = engine_result_load(PortfolioResult.Kind.LEVERAGE)
        rows = leverage_json(result.data, kind=kind)
        self.paginator.meta = _meta(result)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(page)


class WavesView(StoredResultView):
    """A suggested migration order: wave n holds open services whose open hard dependencies are all in
    earlier waves; services in or behind a dependency cycle are listed apart."""

    serializer_class = WavesSerializer

    @extend_schema(summary="Migration waves")
    def get(self, request: Request) -> Response:
        result = engine_result_load(PortfolioResult.Kind.WAVES)
        return Response({**_meta(result), **waves_json(result.data)})


class ProgressView(StoredResultView):
    """Progress now, by count and yearly volume: overall, per owner, per service type, per capability."""

    serializer_class = ProgressSerializer

    @extend_schema(summary="Progress now")
    def get(self, request: Request) -> Response:
        result = engine_result_load(PortfolioResult.Kind.PROGRESS)
        stored = progress_json(result.data)
        owner_codes, capability_keys = owner_codes_load(), capability_keys_load()
        return Response(
            {
                **_meta(result),
                "overall": stored.overall if stored else None,
                "by_owner": _by_code(stored.by_owner, owner_codes) if stored else {},
                "by_service_type": stored.by_service_type if stored else {},
                "by_capability": _by_code(stored.by_capability, capability_keys) if stored else {},
                "overdue_service_ids": stored.overdue if stored else [],
            }
        )


def _forecast(figures: ForecastJSON) -> dict[str, Any]:
    """Forecast figures as stored, with the weekly throughput as named pairs."""
    return {
        **figures,
        "weekly_throughput": [{"week": week, "count": count} for week, count in figures["weekly_throughput"]],
    }


class ForecastView(StoredResultView):
    """When the open services will be done if the coming weeks look like the past 26 (P50 and P85),
    against the deadline milestone; overall and per owner."""

    serializer_class = ForecastSerializer

    @extend_schema(summary="Forecast against the deadline")
    def get(self, request: Request) -> Response:
        result = engine_result_load(PortfolioResult.Kind.FORECAST)
        stored = forecast_json(result.data)
        codes = owner_codes_load()
        return Response(
            {
                **_meta(result),
                "overall": _forecast(stored.overall) if stored else None,
                "by_owner": {code: _forecast(f) for code, f in _by_code(stored.by_owner, codes).items()}
                if stored
                else {},
            }
        )


class SlipImpactView(StoredResultView):
    """Who is hit if a capability or a service comes later than planned: the open services downstream
    along hard edges, their volume and owners; with ``new_date``, those whose target date it passes.

    Computed live from the current catalog (three queries and the pure engine), not stored.
    """

    serializer_class = SlipImpactSerializer
    has_query_parameters = True

    @extend_schema(summary="Slip impact (computed live)", parameters=[SlipImpactQuerySerializer])
    def get(self, request: Request) -> Response:
        query = SlipImpactQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        capability_id = query.validated_data.get("capability")
        service_id = query.validated_data.get("service")
        services, capabilities, edges = portfolio_load()
        portfolio = build_portfolio(services, capabilities, edges)
        if capability_id is not None and capability_id not in portfolio.capabilities:
            raise exceptions.ValidationError(
                {"capability": [_("No capability with id %(id)s.") % {"id": capability_id}]}
            )
        if service_id is not None and service_id not in portfolio.services:
            raise exceptions.ValidationError({"service": [_("No service with id %(id)s.") % {"id": service_id}]})
        impact = slip_impact(
            portfolio,
            capability_id=capability_id,
            service_id=service_id,
            new_date=query.validated_data.get("new_date"),
        ).to_dict()
        codes = owner_codes_load()
        impact["owners"] = [{**owner, "owner": codes.get(owner["owner_id"], "")} for owner in impact["owners"]]
        impact["computed_at"] = utc_iso(timezone.now())
        return Response(impact)


@extend_schema(summary="Daily progress snapshots")
class ProgressHistoryView(generics.ListAPIView):
    """Progress per day, for burn-up charts: ``?scope=owner&key=skd&from=2026-01-01&to=2026-05-31``.
    Scopes: overall, owner (key: org code), type (key: Altinn II service type). Oldest first."""

    serializer_class = ProgressSnapshotSerializer
    filterset_class = ProgressSnapshotFilterSet

    def get_queryset(self) -> Any:
        return ProgressSnapshot.objects.order_by("day", "scope", "scope_key")
