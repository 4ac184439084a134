"""Engine results: computed by tasks, read by pages, the API and e-mails (decoded by engine.codec)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import (
    ReadinessState,
)
from ..engine.codec import blocker_count
from .catalog import Service


class PortfolioStateQuerySet(models.QuerySet["PortfolioState"]):
    def singleton(self) -> PortfolioStateQuerySet:
        """The one row, as a queryset: read it, update it, lock it, or ``.get_or_create()`` it."""
        return self.filter(pk=PortfolioState.SINGLETON_ID)


class PortfolioState(models.Model):
    """A single row: the catalog's change counter and the recompute queue flag.

    Every committed change that can affect readiness bumps ``revision``; a recompute records the
    revision it read. Results are fresh exactly when ``computed_revision == revision``. The
    ``recompute_pending`` flag is claimed with a compare-and-set so a burst of edits queues one task;
    ``recompute_claimed_at`` tells a claim whose task was lost (a broker outage) from a recent one.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    revision = models.PositiveBigIntegerField(default=0)
    recompute_pending = models.BooleanField(default=False)
    recompute_claimed_at = models.DateTimeField(null=True, blank=True)
    computed_revision = models.PositiveBigIntegerField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    SINGLETON_ID = 1
    objects = PortfolioStateQuerySet.as_manager()

    class Meta:
        verbose_name = _("portfolio state")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="portfolio_state_singleton")]

    def __str__(self) -> str:
        return f"revision {self.revision}, computed {self.computed_revision}"

    @property
    def is_fresh(self) -> bool:
        return self.computed_revision == self.revision


class ServiceReadiness(models.Model):
    """The engine's verdict for one service: can it move now, and if not, exactly what stands in the way."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, primary_key=True, related_name="readiness")
    state = models.CharField(_("readiness"), max_length=16, choices=ReadinessState.choices)
    score = models.PositiveSmallIntegerField(_("readiness score"))
    # {"parts": [[label, points], ...], "blockers": [...], "capability_blocker_count": n,
    # "service_blocker_count": n}: written and read only by engine.codec
    # (readiness_detail_encode, readiness_decode).
    detail = models.JSONField(default=dict)
    # A digest of state, score and detail: the recompute rewrites only rows whose verdict changed.
    fingerprint = models.CharField(max_length=32)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("service readiness")
        verbose_name_plural = _("service readiness")
        indexes = [
            # The catalog and API filtered by readiness.
            models.Index(fields=["state"], name="readiness_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id}: {self.state} ({self.score})"

    @property
    def blocker_count(self) -> int:
        """Capability and service blockers, exact and transitive (decoded by engine.codec)."""
        return blocker_count(self.detail)


class PortfolioResult(models.Model):
    """One stored portfolio-wide result (leverage, waves, forecast, progress) as JSON, replaced on recompute."""

    class Kind(models.TextChoices):
        LEVERAGE = "leverage", _("Leverage")
        WAVES = "waves", _("Waves")
        FORECAST = "forecast", _("Forecast")
        PROGRESS = "progress", _("Progress")

    kind = models.CharField(max_length=16, choices=Kind.choices, unique=True)
    # One document per kind, written and read only by engine.codec (its docstring describes each).
    data = models.JSONField(default=dict)
    revision = models.PositiveBigIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["kind"]
        verbose_name = _("portfolio result")

    def __str__(self) -> str:
        return f"{self.kind} at revision {self.revision}"


class ProgressSnapshot(models.Model):
    """Progress figures for one day and one scope (overall, an owner, a service type).

    Stored daily so burn-up charts and "this week against last week" come from history; taking a
    day's snapshot again overwrites that day's rows (unique on day + scope).
    """

    class Scope(models.TextChoices):
        OVERALL = "overall", _("Overall")
        OWNER = "owner", _("Service owner")
        TYPE = "type", _("Service type")

    day = models.DateField()
    scope = models.CharField(max_length=8, choices=Scope.choices)
    # '' for overall, the org code for an owner, the ServiceType value for a type.
    scope_key = models.CharField(max_length=32, blank=True)
    total_count = models.PositiveIntegerField()
    done_count = models.PositiveIntegerField()
    migrated_count = models.PositiveIntegerField()
    total_volume = models.PositiveBigIntegerField()
    done_volume = models.PositiveBigIntegerField()
    migrated_volume = models.PositiveBigIntegerField()
    # {status: [count, volume]} for every lifecycle status present that day.
    by_status = models.JSONField(default=dict)
    taken_at = models.DateTimeField()

    class Meta:
        # The unique index (day, scope, scope_key) serves this ordering and the time-series reads.
        ordering = ["day", "scope", "scope_key"]
        verbose_name = _("progress snapshot")
        constraints = [
            models.UniqueConstraint(fields=["day", "scope", "scope_key"], name="snapshot_unique_day_scope"),
        ]
        indexes = [
            # A scope's time series (one owner's burn-up) in date order.
            models.Index(fields=["scope", "scope_key", "day"], name="snapshot_scope_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.scope}:{self.scope_key} {self.done_count}/{self.total_count}"
