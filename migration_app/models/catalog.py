"""The migration catalog: who owns which Altinn II service, what it needs, and how far it has come."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import (
    Altinn3Target,
    CapabilityStatus,
    Criticality,
    DependencyStrength,
    MembershipRole,
    MembershipSource,
    MigrationStatus,
    ServiceType,
)
from ..engine.lifecycle import DONE_VALUES
from ..validators import validate_lowercase_code, validate_orgnr

# What leads edit of an organisation, a capability and a milestone, through the API, the admin and the
# services (services.owners, services.roadmap); like SERVICE_EDITABLE_FIELDS, the one list each.
OWNER_EDITABLE_FIELDS: tuple[str, ...] = (
    "code",
    "name_nb",
    "name_nn",
    "name_en",
    "orgnr",
    "homepage",
    "contact_email",
    "active",
)
CAPABILITY_EDITABLE_FIELDS: tuple[str, ...] = (
    "key",
    "name_nb",
    "name_en",
    "description",
    "status",
    "planned_date",
    "delivered_date",
)
MILESTONE_EDITABLE_FIELDS: tuple[str, ...] = ("key", "name_nb", "name_en", "date", "is_deadline", "description")


class ServiceOwner(models.Model):
    """A service-owning organisation (tjenesteeier) such as Skatteetaten, keyed by its Altinn 3 org code."""

    code = models.CharField(
        _("org code"),
        max_length=32,
        unique=True,
        validators=[validate_lowercase_code],
        help_text=_("Lower-case Altinn 3 org code, e.g. 'skd'. Altinn II's ServiceOwnerCode is the upper-case form."),
    )
    name_nb = models.CharField(_("name (bokmål)"), max_length=200)
    name_nn = models.CharField(_("name (nynorsk)"), max_length=200, blank=True)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    orgnr = models.CharField(
        _("organisation number"),
        max_length=9,
        blank=True,
        validators=[validate_orgnr],
        help_text=_("9 digits with a MOD11 check digit; empty for test organisations."),
    )
    homepage = models.URLField(_("homepage"), blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The unique index on code serves this ordering.
        ordering = ["code"]
        verbose_name = _("service owner")
        verbose_name_plural = _("service owners")

    def __str__(self) -> str:
        return f"{self.name_nb} ({self.code})"

    @property
    def altinn2_code(self) -> str:
        return self.code.upper()


class PlatformCapability(models.Model):
    """Something Altinn 3 must offer before services that use it can move (payment, sub-forms, ...)."""

    key = models.SlugField(_("key"), max_length=64, unique=True)
    name_nb = models.CharField(_("name (bokmål)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("roadmap status"), max_length=20, choices=CapabilityStatus.choices, default=CapabilityStatus.UNDER_REVIEW
    )
    planned_date = models.DateField(_("planned ready"), null=True, blank=True)
    delivered_date = models.DateField(_("delivered"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The unique index on key serves this ordering.
        ordering = ["key"]
        verbose_name = _("platform capability")
        verbose_name_plural = _("platform capabilities")
        constraints = [
            models.CheckConstraint(
                condition=Q(status=CapabilityStatus.DELIVERED) | Q(delivered_date__isnull=True),
                name="capability_delivered_date_only_when_delivered",
            ),
        ]

    def __str__(self) -> str:
        return self.name_nb

    @property
    def is_delivered(self) -> bool:
        return self.status == CapabilityStatus.DELIVERED


# Fields an owner edits through forms, the API and imports; status and version have their own paths
# (services.catalog). The form, the serializer, the admin and the importers all take this one list.
SERVICE_EDITABLE_FIELDS: tuple[str, ...] = (
    "name_nb",
    "name_en",
    "edition_name",
    "service_type",
    "valid_from",
    "valid_to",
    "yearly_volume",
    "criticality",
    "target",
    "altinn3_reference",
    "planned_start",
    "target_date",
    "actual_start",
    "actual_done",
    "contact_name",
    "contact_email",
    "notes",
)


class ServiceQuerySet(models.QuerySet["Service"]):
    def overdue(self, today: datetime.date) -> ServiceQuerySet:
        """Open services past their target date: ``engine.progress.due_state`` as a query (the catalog filter)."""
        return self.filter(target_date__lt=today).exclude(status__in=DONE_VALUES)


class Service(models.Model):
    """One Altinn II service edition, identified by (service code, edition code), and its migration plan."""

    service_code = models.CharField(
        _("service code"), max_length=64, help_text=_("Altinn II ServiceCode, e.g. '3906' or 'BOABA'.")
    )
    edition_code = models.PositiveIntegerField(_("edition code"), help_text=_("Altinn II ServiceEditionCode."))
    name_nb = models.CharField(_("name (bokmål)"), max_length=300)
    name_en = models.CharField(_("name (English)"), max_length=300, blank=True)
    edition_name = models.CharField(_("edition name"), max_length=300, blank=True)
    owner = models.ForeignKey(
        ServiceOwner, on_delete=models.PROTECT, related_name="services", verbose_name=_("service owner")
    )
    service_type = models.CharField(_("Altinn II type"), max_length=20, choices=ServiceType.choices)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    yearly_volume = models.PositiveBigIntegerField(
        _("yearly volume"), default=0, help_text=_("Transactions (submissions, messages, look-ups) per year.")
    )
    criticality = models.CharField(
        _("criticality"), max_length=10, choices=Criticality.choices, default=Criticality.MEDIUM
    )
    target = models.CharField(
        _("planned outcome"),
        max_length=24,
        choices=Altinn3Target.choices,
        blank=True,
        help_text=_("The Altinn 3 resource type it moves to, or decommission / re-implement elsewhere."),
    )
    altinn3_reference = models.CharField(
        _("Altinn 3 reference"),
        max_length=200,
        blank=True,
        help_text=_("App id 'org/app-name' or resource id, e.g. 'skd-migratedcorrespondence-5229-1'."),
    )
    status = models.CharField(
        _("migration status"), max_length=24, choices=MigrationStatus.choices, default=MigrationStatus.NOT_STARTED
    )
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)
    planned_start = models.DateField(_("planned start"), null=True, blank=True)
    target_date = models.DateField(_("target date"), null=True, blank=True)
    actual_start = models.DateField(_("actual start"), null=True, blank=True)
    actual_done = models.DateField(_("actual completion"), null=True, blank=True)
    contact_name = models.CharField(_("responsible contact"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    version = models.PositiveIntegerField(
        _("version"), default=1, editable=False, help_text=_("Bumped on every write; guards concurrent edits.")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        # The natural-key unique index serves this ordering and look-ups by Altinn II key.
        ordering = ["service_code", "edition_code"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.UniqueConstraint(fields=["service_code", "edition_code"], name="service_natural_key"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_to__gte=models.F("valid_from")),
                name="service_valid_to_after_valid_from",
            ),
        ]
        indexes = [
            # "My organisation" and the catalog filtered by owner and status.
            models.Index(fields=["owner", "status"], name="service_owner_status_idx"),
            # The catalog filtered by status alone, and progress counts.
            models.Index(fields=["status"], name="service_status_idx"),
            # Overdue / due-soon lists.
            models.Index(fields=["target_date"], name="service_target_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service_code}/{self.edition_code} {self.name_nb}"

    @property
    def natural_key_label(self) -> str:
        return f"{self.service_code}/{self.edition_code}"


class Dependency(models.Model):
    """An edge: ``service`` needs another service or a platform capability, hard (blocking) or soft."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="dependencies", verbose_name=_("service")
    )
    depends_on_service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="dependents",
        verbose_name=_("depends on service"),
    )
    depends_on_capability = models.ForeignKey(
        PlatformCapability,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="dependents",
        verbose_name=_("depends on capability"),
    )
    strength = models.CharField(
        _("strength"), max_length=4, choices=DependencyStrength.choices, default=DependencyStrength.HARD
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["service_id", "id"]
        verbose_name = _("dependency")
        verbose_name_plural = _("dependencies")
        constraints = [
            models.CheckConstraint(
                condition=(Q(depends_on_service__isnull=False) & Q(depends_on_capability__isnull=True))
                | (Q(depends_on_service__isnull=True) & Q(depends_on_capability__isnull=False)),
                name="dependency_exactly_one_target",
            ),
            models.CheckConstraint(
                condition=~Q(depends_on_service=models.F("service")), name="dependency_not_on_itself"
            ),
            # These unique indexes also serve "what does this service need" (leading column service).
            models.UniqueConstraint(
                fields=["service", "depends_on_service"],
                condition=Q(depends_on_service__isnull=False),
                name="dependency_unique_service_edge",
            ),
            models.UniqueConstraint(
                fields=["service", "depends_on_capability"],
                condition=Q(depends_on_capability__isnull=False),
                name="dependency_unique_capability_edge",
            ),
        ]

    def __str__(self) -> str:
        target = self.depends_on_service or self.depends_on_capability
        return f"{self.service} → {target} ({self.strength})"


class StatusChange(models.Model):
    """One row per status change, written in the same transaction as the change; never edited."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(_("from"), max_length=24, choices=MigrationStatus.choices)
    to_status = models.CharField(_("to"), max_length=24, choices=MigrationStatus.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"), db_index=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        indexes = [
            # A service's timeline on its detail page.
            models.Index(fields=["service", "-changed_at"], name="statuschange_service_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id}: {self.from_status} → {self.to_status} at {self.changed_at:%Y-%m-%d}"


class Milestone(models.Model):
    """A named programme date such as "Altinn II shut down"; deadlines are data, never constants."""

    key = models.SlugField(_("key"), max_length=64, unique=True)
    name_nb = models.CharField(_("name (bokmål)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    date = models.DateField(_("date"))
    is_deadline = models.BooleanField(
        _("is the deadline"),
        default=False,
        help_text=_("The milestone forecasts are measured against. At most one milestone can be the deadline."),
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["date", "key"]
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        constraints = [
            models.UniqueConstraint(
                fields=["is_deadline"], condition=Q(is_deadline=True), name="milestone_one_deadline"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name_nb} ({self.date:%Y-%m-%d})"


class Membership(models.Model):
    """A user's role in one service-owning organisation; project leads are a group instead."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    owner = models.ForeignKey(ServiceOwner, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=MembershipRole.choices, default=MembershipRole.VIEWER)
    # Single sign-on adds and removes only its own rows (migration_app/sso/services.py, docs/sso.md).
    source = models.CharField(
        _("source"), max_length=8, choices=MembershipSource.choices, default=MembershipSource.MANUAL
    )

    class Meta:
        ordering = ["owner_id", "user_id"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "owner"], name="membership_unique_user_owner")]

    def __str__(self) -> str:
        return f"{self.user} – {self.owner.code} ({self.role})"
