"""Reads of the catalog itself: services, their history, capabilities with who waits for them."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from ..engine.lifecycle import DONE
from ..models import (
    Dependency,
    PlatformCapability,
    Service,
    StatusChange,
)


def service_catalog(*, owner_id: int | None = None) -> QuerySet[Service]:
    """Services for list pages: owner and stored readiness joined, so a page of rows costs one query."""
    qs = Service.objects.select_related("owner", "readiness")
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    return qs


def service_detail(*, pk: int) -> Service:
    """One service with its owner, dependencies both ways and status history, in a fixed number of queries."""
    return (
        Service.objects.select_related("owner")
        .prefetch_related(
            Prefetch(
                "dependencies",
                queryset=Dependency.objects.select_related("depends_on_service__owner", "depends_on_capability"),
            ),
            Prefetch("dependents", queryset=Dependency.objects.select_related("service__owner")),
            Prefetch("status_changes", queryset=StatusChange.objects.select_related("changed_by")),
        )
        .get(pk=pk)
    )


def status_history() -> QuerySet[StatusChange]:
    """Status changes newest first, with the service, its owner and the user joined (one query a page)."""
    return StatusChange.objects.select_related("service__owner", "changed_by").order_by("-changed_at", "-id")


def status_changes_since(*, since: datetime.datetime, limit: int = 200) -> list[StatusChange]:
    """Status changes since ``since``, newest first, with service, owner and author: one query."""
    return list(
        StatusChange.objects.filter(changed_at__gte=since).select_related("service__owner", "changed_by")[:limit]
    )


def capability_overview() -> QuerySet[PlatformCapability]:
    """Capabilities with the open services (and their yearly volume) directly waiting for each: one query."""

    waiting = Q(dependents__strength="hard") & ~Q(dependents__service__status__in=DONE)
    return PlatformCapability.objects.annotate(
        waiting_count=Count("dependents", filter=waiting),
        waiting_volume=Sum("dependents__service__yearly_volume", filter=waiting, default=0),
    ).order_by("planned_date", "key")


def capability_keys_load() -> dict[int, str]:
    """{capability id: key}: one query, for keying results by what people type."""
    return dict(PlatformCapability.objects.values_list("id", "key"))


def raw_rows(queryset: QuerySet) -> list[tuple[Any, ...]]:
    """The rows of a ``values_list`` queryset as the database driver returns them.

    Skips Django's per-value converters (time-zone handling of every datetime, json.loads of every
    JSON document): most of the time of the API's 1,000-service page otherwise. The caller gets the
    driver's types: JSON as text on both backends (Django loads jsonb as text), datetimes as naive UTC
    on SQLite and aware on PostgreSQL. One query, the same SQL the queryset would run.
    """

    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # e.g. a filter on an empty list: no query needed
        return []
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    # Ordering by an annotation can add trailing columns that are not part of the values_list.
    if compiler.has_extra_select:
        rows = [row[: compiler.col_count] for row in rows]
    return rows
