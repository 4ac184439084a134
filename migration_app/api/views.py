"""The catalog over HTTP: owners, services, capabilities, dependencies, milestones and history.

Views are thin: reads come from ``selectors`` and the FilterSets, writes go through ``services``
(which checks the edit rule again and queues the recompute). Versioned objects (services, dependencies,
capabilities) carry an ETag; their writes need If-Match and answer a stale one with 412 and the
current representation. Engine results live in ``results.py``, import and export in ``transfer.py``.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, mixins, status, viewsets
from rest_framework.decorators import action, api_view, authentication_classes, permission_classes, schema
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from ..engine.portfolio import gc_paused
from ..filters import ServiceFilterSet
from ..models import Dependency, Milestone, PlatformCapability, Service, ServiceOwner
from ..selectors.access import dependencies_editable_by, services_editable_by
from ..selectors.catalog import raw_rows, service_catalog, status_history
from ..selectors.results import portfolio_freshness, readiness_row
from ..services.catalog import service_change_status, service_create, service_update
from ..services.checks import StaleVersionError
from ..services.dependencies import dependency_add, dependency_remove, dependency_update
from ..services.owners import owner_delete, owner_save
from ..services.roadmap import capability_create, capability_delete, capability_update, milestone_delete, milestone_save
from .concurrency import etag, expected_version
from .errors import PreconditionFailed
from .filters import DependencyFilterSet, StatusChangeFilterSet
from .permissions import CatalogWrite, LeadWrite
from .schema import ETAG, IF_MATCH
from .serializers import (
    SERVICE_COLUMNS,
    CapabilitySerializer,
    DependencySerializer,
    DependencyUpdateSerializer,
    MilestoneSerializer,
    OwnerSerializer,
    ServiceCreateSerializer,
    ServiceReadinessSerializer,
    ServiceSerializer,
    StaleCapabilitySerializer,
    StaleDependencySerializer,
    StaleServiceSerializer,
    StatusChangeSerializer,
    TransitionSerializer,
    readiness_representation,
    service_representation,
    utc_iso,
)


def _without_version(data: dict[str, Any]) -> dict[str, Any]:
    """Validated input without ``version``: it names the version being changed, it is not a change."""
    return {name: value for name, value in data.items() if name != "version"}


# The models that carry a ``version`` for compare-and-set, so an ETag.
_VersionedT = TypeVar("_VersionedT", bound=Service | Dependency | PlatformCapability)
_ModelT = TypeVar("_ModelT", bound=Model)


class VersionedMixin(Generic[_VersionedT]):
    """ETags on single representations, If-Match on writes, 412 with the current representation.

    A subclass names how to re-read an object (``reload``) and how to show it (``represent``).
    """

    request: Request
    conditional_actions: tuple[str, ...] = ()

    def reload(self, pk: int) -> _VersionedT:
        raise NotImplementedError

    def represent(self, obj: _VersionedT) -> dict[str, Any]:
        raise NotImplementedError

    def versioned_response(self, obj: _VersionedT, status_code: int = status.HTTP_200_OK) -> Response:
        response = Response(self.represent(obj), status=status_code)
        response["ETag"] = etag(obj.version)
        return response

    def stale_response(self, pk: int, exc: Exception) -> Response:
        """412 with what is stored now, so the client can re-apply its change without another read."""
        try:
            current = self.reload(pk)
        except Http404:
            raise exceptions.NotFound() from None
        detail = str(exc.detail) if isinstance(exc, exceptions.APIException) else str(exc)
        response = Response({"detail": detail, "current": self.represent(current)}, status=412)
        response["ETag"] = etag(current.version)
        return response


def _writable_object(writable: QuerySet[_ModelT], readable: QuerySet[_ModelT], message: str, **lookup: Any) -> _ModelT:
    """Look a write's object up in the queryset of what the user may change: 403 when it exists but is
    someone else's, 404 when it does not exist at all."""
    obj = writable.filter(**lookup).first()
    if obj is None:
        if readable.filter(**lookup).exists():
            raise exceptions.PermissionDenied(message)
        raise Http404
    return obj


# --- Services -------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List services",
        description=(
            "The catalog, filtered, searched (`q`: names, codes, or an Altinn II key such as `3906/2`), "
            "sorted (`sort`: code, name, owner, volume, status, target_date, readiness, updated; `-` for "
            "descending) and paged (`page_size` up to 1,000). Each service embeds its stored readiness."
        ),
    ),
    retrieve=extend_schema(summary="One service", parameters=[ETAG]),
    create=extend_schema(
        summary="Add a service edition",
        description="Editors add services for their own organisation, leads for any. Status starts at not started.",
        request=ServiceCreateSerializer,
        responses={201: ServiceSerializer},
        parameters=[ETAG],
    ),
    update=extend_schema(summary="Replace a service's editable fields", parameters=[IF_MATCH, ETAG]),
    partial_update=extend_schema(summary="Change some of a service's fields", parameters=[IF_MATCH, ETAG]),
)
class ServiceViewSet(
    VersionedMixin[Service],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Services by id (``/services/{id}/``) or Altinn II key (``/services/by-key/{code}/{edition}/``).
    Services are never deleted: they are retired through the lifecycle (decommissioned)."""

    serializer_class = ServiceSerializer
    permission_classes = [CatalogWrite]
    filterset_class = ServiceFilterSet
    lookup_value_regex = r"\d+"
    conditional_actions = ("update", "partial_update", "transition")
    stale_serializer_class = StaleServiceSerializer

    def get_queryset(self) -> QuerySet[Service]:
        return service_catalog()

    def _lookup(self) -> dict[str, Any]:
        if "service_code" in self.kwargs:
            return {"service_code": self.kwargs["service_code"], "edition_code": self.kwargs["edition_code"]}
        return {"pk": self.kwargs["pk"]}

    def get_object(self) -> Service:
        if self.request.method in SAFE_METHODS:
            obj = get_object_or_404(self.get_queryset(), **self._lookup())
        else:
            obj = _writable_object(
                services_editable_by(self.request.user),
                Service.objects.all(),
                str(CatalogWrite.message),
                **self._lookup(),
            )
        self.check_object_permissions(self.request, obj)
        return obj

    def reload(self, pk: int) -> Service:
        return get_object_or_404(service_catalog(), pk=pk)

    def represent(self, obj: Service) -> dict[str, Any]:
        data: dict[str, Any] = ServiceSerializer(obj, context=self.get_serializer_context()).data
        return data

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The hot path: the driver's rows, no model instances and no per-value converters (see
        # serializers.py). Queries: the page count, then one SELECT of the page with the owner and
        # the stored readiness joined.
        rows = self.filter_queryset(self.get_queryset()).values_list(*SERVICE_COLUMNS)
        page = self.paginator.paginate_rows(rows, request, raw_rows)
        # Tens of thousands of short-lived dicts: without the pause the cyclic collector would walk
        # the whole heap several times per page (see engine.portfolio.gc_paused).
        with gc_paused():
            results = [service_representation(row) for row in page]
        return self.get_paginated_response(results)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.versioned_response(self.get_object())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ServiceCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        service = service_create(data=_without_version(serializer.validated_data), user=request.user)
        return self.versioned_response(self.reload(service.pk), status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        service = self.get_object()
        try:
            expected = expected_version(request, service.version)
            serializer = self.get_serializer(service, data=request.data, partial=kwargs.get("partial", False))
            serializer.is_valid(raise_exception=True)
            service_update(
                service=service,
                data=_without_version(serializer.validated_data),
                user=request.user,
                expected_version=expected,
            )
        except (PreconditionFailed, StaleVersionError) as exc:
            return self.stale_response(service.pk, exc)
        return self.versioned_response(self.reload(service.pk))

    @extend_schema(
        summary="Move a service through the lifecycle",
        description=(
            "Forward one step at a time; back with a comment; to decommissioned or re-implemented "
            "elsewhere from any open status. An illegal move is a 400 naming both statuses."
        ),
        request=TransitionSerializer,
        responses={200: ServiceSerializer},
        parameters=[IF_MATCH, ETAG],
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        service = self.get_object()
        try:
            expected = expected_version(request, service.version)
            serializer = TransitionSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            service_change_status(
                service=service,
                to_status=serializer.validated_data["status"],
                comment=serializer.validated_data["comment"],
                user=request.user,
                expected_version=expected,
            )
        except (PreconditionFailed, StaleVersionError) as exc:
            return self.stale_response(service.pk, exc)
        return self.versioned_response(self.reload(service.pk))


class ServiceReadinessView(generics.GenericAPIView):
    """A service's stored readiness and blockers, with the portfolio's freshness (no recompute here)."""

    serializer_class = ServiceReadinessSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(summary="A service's readiness and blockers")
    def get(self, request: Request, pk: int) -> Response:
        if not Service.objects.filter(pk=pk).exists():
            raise Http404
        row = readiness_row(pk)
        freshness = portfolio_freshness()
        readiness = None if row is None else readiness_representation(row.state, row.score, row.detail, row.computed_at)
        return Response(
            {
                "service_id": pk,
                "readiness": readiness,
                "computed_at": utc_iso(freshness.computed_at),
                "fresh": freshness.fresh,
            }
        )


@extend_schema_view(get=extend_schema(summary="Status changes, newest first"))
class HistoryView(generics.ListAPIView):
    """Status changes across the portfolio ("what changed this week": ``?from=2026-05-25&to=2026-05-31``)
    or, under ``/services/{id}/history/``, of one service. Read-only: history is data."""

    serializer_class = StatusChangeSerializer
    filterset_class = StatusChangeFilterSet

    def get_queryset(self) -> QuerySet:
        history = status_history()
        if "pk" in self.kwargs:
            if not Service.objects.filter(pk=self.kwargs["pk"]).exists():
                raise Http404
            history = history.filter(service_id=self.kwargs["pk"])
        return history


class ServiceHistoryView(HistoryView):
    """One service's status changes, newest first."""


# --- Dependencies ----------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List dependency edges"),
    retrieve=extend_schema(summary="One dependency edge", parameters=[ETAG]),
    create=extend_schema(
        summary="Declare a dependency",
        description=(
            "The service (yours, unless you are a lead) needs another service (any organisation's) or a "
            "capability. A hard edge that would close a cycle is refused with the cycle named."
        ),
        responses={201: DependencySerializer},
        parameters=[ETAG],
    ),
    update=extend_schema(summary="Change an edge's strength and note", parameters=[IF_MATCH, ETAG]),
    partial_update=extend_schema(summary="Change an edge's strength or note", parameters=[IF_MATCH, ETAG]),
    destroy=extend_schema(summary="Remove a dependency", parameters=[IF_MATCH]),
)
class DependencyViewSet(VersionedMixin[Dependency], viewsets.ModelViewSet):
    """Dependency edges; the dependent service's organisation (or a lead) edits them."""

    permission_classes = [CatalogWrite]
    filterset_class = DependencyFilterSet
    lookup_value_regex = r"\d+"
    conditional_actions = ("update", "partial_update", "destroy")
    stale_serializer_class = StaleDependencySerializer

    def get_queryset(self) -> QuerySet[Dependency]:
        return Dependency.objects.select_related("service").order_by("service_id", "id")

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action in ("update", "partial_update"):
            return DependencyUpdateSerializer
        return DependencySerializer

    def get_object(self) -> Dependency:
        if self.request.method in SAFE_METHODS:
            obj = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        else:
            obj = _writable_object(
                dependencies_editable_by(self.request.user),
                Dependency.objects.all(),
                str(CatalogWrite.message),
                pk=self.kwargs["pk"],
            )
        self.check_object_permissions(self.request, obj)
        return obj

    def reload(self, pk: int) -> Dependency:
        return get_object_or_404(self.get_queryset(), pk=pk)

    def represent(self, obj: Dependency) -> dict[str, Any]:
        data: dict[str, Any] = DependencySerializer(obj, context=self.get_serializer_context()).data
        return data

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.versioned_response(self.get_object())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = DependencySerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        dependency = dependency_add(
            service=data["service"],
            depends_on_service=data.get("depends_on_service"),
            depends_on_capability=data.get("depends_on_capability"),
            strength=data.get("strength", Dependency._meta.get_field("strength").default),
            note=data.get("note", ""),
            user=request.user,
        )
        return self.versioned_response(dependency, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        dependency = self.get_object()
        try:
            expected = expected_version(request, dependency.version)
            serializer = self.get_serializer(dependency, data=request.data, partial=kwargs.get("partial", False))
            serializer.is_valid(raise_exception=True)
            dependency_update(
                dependency=dependency,
                data=_without_version(serializer.validated_data),
                user=request.user,
                expected_version=expected,
            )
        except (PreconditionFailed, StaleVersionError) as exc:
            return self.stale_response(dependency.pk, exc)
        return self.versioned_response(self.reload(dependency.pk))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        dependency = self.get_object()
        try:
            expected = expected_version(request, dependency.version)
            dependency_remove(dependency=dependency, user=request.user, expected_version=expected)
        except (PreconditionFailed, StaleVersionError) as exc:
            return self.stale_response(dependency.pk, exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Reference data: capabilities, owners, milestones (leads write) ----------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List platform capabilities"),
    retrieve=extend_schema(summary="One platform capability", parameters=[ETAG]),
    create=extend_schema(summary="Add a capability (leads)", parameters=[ETAG]),
    update=extend_schema(summary="Replace a capability (leads)", parameters=[IF_MATCH, ETAG]),
    partial_update=extend_schema(summary="Change a capability (leads)", parameters=[IF_MATCH, ETAG]),
    destroy=extend_schema(
        summary="Remove a capability and the edges on it (leads)",
        parameters=[IF_MATCH],
        responses={204: OpenApiResponse(description="Removed.")},
    ),
)
class CapabilityViewSet(VersionedMixin[PlatformCapability], viewsets.ModelViewSet):
    """Altinn 3 platform capabilities on the roadmap; a delivery changes readiness portfolio-wide."""

    serializer_class = CapabilitySerializer
    permission_classes = [LeadWrite]
    lookup_value_regex = r"\d+"
    conditional_actions = ("update", "partial_update", "destroy")
    stale_serializer_class = StaleCapabilitySerializer

    def get_queryset(self) -> QuerySet[PlatformCapability]:
        return PlatformCapability.objects.all()

    def reload(self, pk: int) -> PlatformCapability:
        return get_object_or_404(self.get_queryset(), pk=pk)

    def represent(self, obj: PlatformCapability) -> dict[str, Any]:
        data: dict[str, Any] = CapabilitySerializer(obj, context=self.get_serializer_context()).data
        return data

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.versioned_response(self.get_object())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        capability = capability_create(data=_without_version(serializer.validated_data), user=request.user)
        return self.versioned_response(capability, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        capability = self.get_object()
        try:
            expected = expected_version(request, capability.version)
            serializer = self.get_serializer(capability, data=request.data, partial=kwargs.get("partial", False))
            serializer.is_valid(raise_exception=True)
            capability_update(
                capability=capability,
                data=_without_version(serializer.validated_data),
                user=request.user,
                expected_version=expected,
            )
        except (PreconditionFailed, StaleVersionError) as exc:
            return self.stale_response(capability.pk, exc)
        return self.versioned_response(self.reload(capability.pk))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        capability = self.get_object()
        try:
            expected = expected_version(request, capability.version)
            capability_delete(capability=capability, user=request.user, expected_version=expected)
        except (PreconditionFailed, StaleVersionError) as exc:
            return self.stale_response(capability.pk, exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List service owners"),
    retrieve=extend_schema(summary="One service owner"),
    create=extend_schema(summary="Add a service owner (leads)"),
    update=extend_schema(summary="Replace a service owner (leads)"),
    partial_update=extend_schema(summary="Change a service owner (leads)"),
    destroy=extend_schema(summary="Remove a service owner without services (leads)"),
)
class OwnerViewSet(viewsets.ModelViewSet):
    """Service-owning organisations. An owner that still owns services cannot be removed (400)."""

    serializer_class = OwnerSerializer
    permission_classes = [LeadWrite]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[ServiceOwner]:
        return ServiceOwner.objects.order_by("code")

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = owner_save(data=serializer.validated_data, user=self.request.user)

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = owner_save(
            data=serializer.validated_data, owner=serializer.instance, user=self.request.user
        )

    def perform_destroy(self, instance: ServiceOwner) -> None:
        owner_delete(owner=instance, user=self.request.user)


@extend_schema_view(
    list=extend_schema(summary="List programme milestones"),
    retrieve=extend_schema(summary="One milestone"),
    create=extend_schema(summary="Add a milestone (leads)"),
    update=extend_schema(summary="Replace a milestone (leads)"),
    partial_update=extend_schema(summary="Change a milestone (leads)"),
    destroy=extend_schema(summary="Remove a milestone (leads)"),
)
class MilestoneViewSet(viewsets.ModelViewSet):
    """Programme dates; the one marked ``is_deadline`` is what forecasts are measured against."""

    serializer_class = MilestoneSerializer
    permission_classes = [LeadWrite]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Milestone]:
        return Milestone.objects.all()

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = milestone_save(data=serializer.validated_data, user=self.request.user)

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = milestone_save(
            data=serializer.validated_data, milestone=serializer.instance, user=self.request.user
        )

    def perform_destroy(self, instance: Milestone) -> None:
        milestone_delete(milestone=instance, user=self.request.user)


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@authentication_classes([])
@permission_classes([AllowAny])
@schema(None)
def not_found(request: Request, *args: Any, **kwargs: Any) -> Response:
    """Unknown URLs under /api/v1/ (``/services/abc/``) answer in JSON like the rest of the API, not
    with the site's HTML error page."""
    raise exceptions.NotFound()
