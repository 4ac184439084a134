"""Engine results over HTTP: leverage, waves, progress (now and daily), forecast and slip impact.

Everything but slip impact is read from what the last recompute stored (``PortfolioResult``,
``ProgressSnapshot``): a fixed, small number of queries, never a computation per request. Each answer
says when it was computed and whether the catalog has changed since (``fresh``). Slip impact depends
on the question asked, so it is computed live from ``portfolio_load()`` and the pure engine.

Stored results key owners and capabilities by id; the API keys them by org code and capability key,
the identifiers scripts and the other endpoints' filters use.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics
from rest_framework.request import Request
from rest_framework.response import Response

from .. import selectors
from ..engine.graph import BlockerKind, build_portfolio, slip_impact
from ..models import PortfolioResult, ProgressSnapshot
from .filters import ProgressSnapshotFilterSet
from .pagination import ResultPagination
from .serializers import (
    ForecastSerializer,
    LeverageRowSerializer,
    ProgressSerializer,
    ProgressSnapshotSerializer,
    SlipImpactQuerySerializer,
    SlipImpactSerializer,
    WavesSerializer,
    utc_iso,
)


def _meta(result: selectors.EngineResult) -> dict[str, Any]:
    return {"computed_at": utc_iso(result.computed_at), "revision": result.revision, "fresh": result.fresh}


def _by_code(figures: dict[str, Any] | None, codes: dict[int, str]) -> dict[str, Any]:
    """A stored {"<id>": value} map keyed by code instead (the id when the code is unknown)."""
    return {codes.get(int(key), key) if key.isdigit() else key: value for key, value in (figures or {}).items()}


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
        result = selectors.engine_result_load(PortfolioResult.Kind.LEVERAGE)
        rows = result.data or []
        if kind:
            rows = [row for row in rows if row.get("kind") == kind]
        self.paginator.meta = _meta(result)  # type: ignore[union-attr]
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(page)


class WavesView(StoredResultView):
    """A suggested migration order: wave n holds open services whose open hard dependencies are all in
    earlier waves; services in or behind a dependency cycle are listed apart."""

    serializer_class = WavesSerializer

    @extend_schema(summary="Migration waves")
    def get(self, request: Request) -> Response:
        result = selectors.engine_result_load(PortfolioResult.Kind.WAVES)
        data = result.data or {}
        return Response(
            {
                **_meta(result),
                "waves": data.get("waves", []),
                "cycle_service_ids": data.get("cycle_service_ids", []),
                "behind_cycle_service_ids": data.get("behind_cycle_service_ids", []),
            }
        )


class ProgressView(StoredResultView):
    """Progress now, by count and yearly volume: overall, per owner, per service type, per capability."""

    serializer_class = ProgressSerializer

    @extend_schema(summary="Progress now")
    def get(self, request: Request) -> Response:
        result = selectors.engine_result_load(PortfolioResult.Kind.PROGRESS)
        data = result.data or {}
        return Response(
            {
                **_meta(result),
                "overall": data.get("overall"),
                "by_owner": _by_code(data.get("by_owner"), selectors.owner_codes_load()),
                "by_service_type": data.get("by_service_type") or {},
                "by_capability": _by_code(data.get("by_capability"), selectors.capability_keys_load()),
                "overdue_service_ids": data.get("overdue", []),
            }
        )


def _forecast(figures: dict[str, Any]) -> dict[str, Any]:
    """Stored forecast figures with the weekly throughput as named pairs."""
    return {
        **figures,
        "weekly_throughput": [{"week": week, "count": count} for week, count in figures.get("weekly_throughput", [])],
    }


class ForecastView(StoredResultView):
    """When the open services will be done if the coming weeks look like the past 26 (P50 and P85),
    against the deadline milestone; overall and per owner."""

    serializer_class = ForecastSerializer

    @extend_schema(summary="Forecast against the deadline")
    def get(self, request: Request) -> Response:
        result = selectors.engine_result_load(PortfolioResult.Kind.FORECAST)
        data = result.data or {}
        overall = data.get("overall")
        codes = selectors.owner_codes_load()
        return Response(
            {
                **_meta(result),
                "overall": _forecast(overall) if overall else None,
                "by_owner": {key: _forecast(value) for key, value in _by_code(data.get("by_owner"), codes).items()},
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
        services, capabilities, edges = selectors.portfolio_load()
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
        codes = selectors.owner_codes_load()
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
