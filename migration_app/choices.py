"""Enumerations from the Altinn domain (see shared/DOMAIN.md), shared by models, engine, forms and API."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ServiceType(models.TextChoices):
    """Altinn II service type, by its metadata-API name."""

    FORM_TASK = "FormTask", _("Form (innsending)")
    CORRESPONDENCE = "Correspondence", _("Message (melding)")
    LOOKUP = "Lookup", _("Lookup (innsyn)")
    COLLABORATION = "Collaboration", _("Collaboration (samhandling)")
    LINK = "Link", _("Link service (lenketjeneste)")
    BROKER = "Broker", _("Broker (formidling)")
    CONSENT = "Consent", _("Consent (samtykke)")
    DELEGATION_SCHEME = "DelegationScheme", _("Delegation scheme (API)")


class Altinn3Target(models.TextChoices):
    """Where a service goes: an Altinn 3 resource type, or a resolution that is not a migration."""

    ALTINN_APP = "AltinnApp", _("Altinn 3 app")
    CORRESPONDENCE_SERVICE = "CorrespondenceService", _("Correspondence service")
    GENERIC_ACCESS_RESOURCE = "GenericAccessResource", _("Generic access resource")
    BROKER_SERVICE = "BrokerService", _("Broker service")
    CONSENT = "Consent", _("Consent resource")
    MASKINPORTEN_SCHEMA = "MaskinportenSchema", _("Maskinporten schema")
    DECOMMISSION = "Decommission", _("Decommission (avvikles)")
    REIMPLEMENT_ELSEWHERE = "ReimplementElsewhere", _("Re-implement elsewhere")
    UNDECIDED = "", _("Not decided")


# The usual Altinn 3 target for each Altinn II type (DOMAIN.md, "Service types and where each goes").
DEFAULT_TARGET_FOR_TYPE: dict[str, str] = {
    ServiceType.FORM_TASK: Altinn3Target.ALTINN_APP,
    ServiceType.LOOKUP: Altinn3Target.ALTINN_APP,
    ServiceType.COLLABORATION: Altinn3Target.ALTINN_APP,
    ServiceType.CORRESPONDENCE: Altinn3Target.CORRESPONDENCE_SERVICE,
    ServiceType.LINK: Altinn3Target.GENERIC_ACCESS_RESOURCE,
    ServiceType.BROKER: Altinn3Target.BROKER_SERVICE,
    ServiceType.CONSENT: Altinn3Target.CONSENT,
    ServiceType.DELEGATION_SCHEME: Altinn3Target.MASKINPORTEN_SCHEMA,
}


class MigrationStatus(models.TextChoices):
    """The lifecycle of one service edition; transitions are checked in ``lifecycle.py``."""

    NOT_STARTED = "not_started", _("Not started")
    ANALYSIS = "analysis", _("Analysis")
    DEVELOPMENT = "development", _("Development")
    TESTING = "testing", _("Testing (TT02)")
    IN_PRODUCTION = "in_production", _("In production on Altinn 3")
    ALTINN2_CLOSED = "altinn2_closed", _("Altinn II closed")
    DECOMMISSIONED = "decommissioned", _("Decommissioned")
    REIMPLEMENTED_ELSEWHERE = "reimplemented_elsewhere", _("Re-implemented elsewhere")


# Every status in lifecycle order: the forward steps, then the resolutions. The one order in which lists,
# filters, charts, figures and sorting show statuses (engine.lifecycle holds the rules between them).
STATUS_ORDER: tuple[str, ...] = tuple(MigrationStatus.values)


class ReadinessState(models.TextChoices):
    """The engine's verdict on one service (engine.readiness.ReadinessState holds the same codes)."""

    MIGRATED = "migrated", _("Migrated")
    RESOLVED = "resolved", _("Resolved without migrating")
    READY = "ready", _("Ready")
    BLOCKED = "blocked", _("Blocked")
    NOT_ASSESSED = "not_assessed", _("Not assessed")


class Criticality(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class CapabilityStatus(models.TextChoices):
    """Digdir's roadmap statuses for a platform capability."""

    UNDER_REVIEW = "under_review", _("Under review (til vurdering)")
    BACKLOG = "backlog", _("Backlog")
    IN_PROGRESS = "in_progress", _("In progress (under arbeid)")
    DELIVERED = "delivered", _("Delivered (levert)")


class DependencyStrength(models.TextChoices):
    HARD = "hard", _("Hard (blocks migration)")
    SOFT = "soft", _("Soft (informational)")


class MembershipRole(models.TextChoices):
    VIEWER = "viewer", _("Viewer")
    EDITOR = "editor", _("Editor")


class MembershipSource(models.TextChoices):
    """Who granted a membership: single sign-on re-synchronises its own at every sign-in, never an admin's."""

    MANUAL = "manual", _("Granted by an administrator")
    SSO = "sso", _("From single sign-on")


class ReportLanguage(models.TextChoices):
    """The languages of the pages and the weekly e-mail (settings.LANGUAGES)."""

    NB = "nb", _("Norwegian Bokmål")
    EN = "en", _("English")


# The Django group whose members are project leads with rights over every organisation.
PROJECT_LEADS_GROUP = "Project leads"
