"""Daily progress snapshots: today's from current statuses, past days replayed from history."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..engine.codec import status_figures_encode
from ..engine.history import statuses_by_day
from ..engine.portfolio import ServiceNode
from ..engine.progress import progress
from ..models import (
    ProgressSnapshot,
)
from ..selectors.engine_inputs import owner_codes_load, portfolio_load, status_changes_load


def _snapshot_rows(day: datetime.date, nodes: list[ServiceNode], owner_codes: Mapping[int, str]) -> list:
    figures = progress(nodes)
    now = timezone.now()

    def row(scope: str, key: str, f: Any) -> ProgressSnapshot:
        return ProgressSnapshot(
            day=day,
            scope=scope,
            scope_key=key,
            total_count=f.total_count,
            done_count=f.done_count,
            migrated_count=f.migrated_count,
            total_volume=f.total_volume,
            done_volume=f.done_volume,
            migrated_volume=f.migrated_volume,
            by_status=status_figures_encode(f),
            taken_at=now,
        )

    rows = [row(ProgressSnapshot.Scope.OVERALL, "", figures.overall)]
    rows += [row(ProgressSnapshot.Scope.OWNER, owner_codes[o], f) for o, f in figures.by_owner.items()]
    rows += [row(ProgressSnapshot.Scope.TYPE, t, f) for t, f in figures.by_service_type.items()]
    return rows


@transaction.atomic
def _snapshots_store(rows: list) -> int:
    ProgressSnapshot.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["day", "scope", "scope_key"],
        update_fields=[
            "total_count",
            "done_count",
            "migrated_count",
            "total_volume",
            "done_volume",
            "migrated_volume",
            "by_status",
            "taken_at",
        ],
    )
    return len(rows)


def progress_snapshot_take(*, day: datetime.date | None = None) -> int:
    """Store (or overwrite) one day's progress per scope: overall, each owner, each service type.

    Today's snapshot reads current statuses; a past day's replays the status history.
    """
    today = timezone.localdate()
    day = day or today
    if day < today:
        return progress_snapshot_backfill(first=day, last=day)
    services, _capabilities, _edges = portfolio_load()
    return _snapshots_store(_snapshot_rows(day, services, owner_codes_load()))


def progress_snapshot_backfill(*, first: datetime.date, last: datetime.date) -> int:
    """Snapshots for every day from ``first`` to ``last`` (inclusive), replayed from history."""
    services, _capabilities, _edges = portfolio_load()
    owner_codes = owner_codes_load()
    by_id = {s.id: s for s in services}
    days = [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]
    rows = []
    for day, statuses in statuses_by_day({s.id: s.status for s in services}, status_changes_load(), days):
        nodes = [dataclasses.replace(by_id[sid], status=status) for sid, status in statuses.items()]
        rows += _snapshot_rows(day, nodes, owner_codes)
    return _snapshots_store(rows)
