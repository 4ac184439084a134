"""The Django admin for the programme team. It follows the same rules as the pages and the API:
status changes, service edits and dependency edges go through ``services``; history is read-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict, cast

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .forms import DependencyAdminForm, ServiceAdminForm, ServiceStatusChangeForm
from .models import (
    SERVICE_EDITABLE_FIELDS,
    Dependency,
    Membership,
    Milestone,
    PlatformCapability,
    ReportPreference,
    Service,
    ServiceOwner,
    StatusChange,
    WeeklyReportDelivery,
)
from .services.catalog import service_update
from .services.checks import StaleVersionError
from .services.dependencies import dependency_add, dependency_remove

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

# Set on the request when a service refused a save after the form validated (a concurrent edit won the
# race), so the admin shows the error instead of "changed successfully".
_REFUSED = "_tracker_admin_save_refused"


# The counts the list pages annotate (``get_queryset`` below), as the type checker sees the rows.
class _ServiceCount(TypedDict):
    service_count: int


class _DependentCount(TypedDict):
    dependent_count: int


def _refused(request: HttpRequest) -> bool:
    return getattr(request, _REFUSED, False)


@admin.register(ServiceOwner)
class ServiceOwnerAdmin(admin.ModelAdmin):
    list_display = ("code", "name_nb", "name_en", "orgnr", "active", "service_count")
    list_filter = ("active",)
    search_fields = ("code", "name_nb", "name_en", "orgnr")
    ordering = ("code",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ServiceOwner]:
        # One grouped query for the whole page instead of a count per row.
        owners: QuerySet[ServiceOwner] = super().get_queryset(request)
        return owners.annotate(service_count=Count("services"))

    @admin.display(description=_("services"), ordering="service_count")
    def service_count(self, obj: WithAnnotations[ServiceOwner, _ServiceCount]) -> int:
        return obj.service_count


@admin.register(PlatformCapability)
class PlatformCapabilityAdmin(admin.ModelAdmin):
    list_display = ("key", "name_nb", "status", "planned_date", "delivered_date", "dependent_count")
    list_filter = ("status",)
    search_fields = ("key", "name_nb", "name_en")
    readonly_fields = ("version", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PlatformCapability]:
        capabilities: QuerySet[PlatformCapability] = super().get_queryset(request)
        return capabilities.annotate(dependent_count=Count("dependents"))

    @admin.display(description=_("services waiting"), ordering="dependent_count")
    def dependent_count(self, obj: WithAnnotations[PlatformCapability, _DependentCount]) -> int:
        return obj.dependent_count


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    """Services. ``status`` is read-only here: the "Change status" button calls service_change_status,
    and other edits are saved by service_update with a version check.
    """

    form = ServiceAdminForm
    list_display = (
        "natural_key_label",
        "name_nb",
        "owner",
        "service_type",
        "status",
        "target",
        "criticality",
        "yearly_volume",
        "target_date",
    )
    list_select_related = ("owner",)
    list_filter = ("status", "service_type", "target", "criticality", "owner")
    search_fields = ("service_code", "name_nb", "name_en", "edition_name", "owner__code", "altinn3_reference")
    autocomplete_fields = ("owner",)
    date_hierarchy = "target_date"
    # Counting 1,000+ rows on every search is cheap enough, but the unfiltered total is not needed.
    show_full_result_count = False
    fieldsets = (
        (
            _("Altinn II service"),
            {
                "fields": (
                    ("service_code", "edition_code"),
                    "edition_name",
                    "name_nb",
                    "name_en",
                    "owner",
                    "service_type",
                    ("valid_from", "valid_to"),
                    "yearly_volume",
                )
            },
        ),
        (
            _("Migration plan"),
            {
                "fields": (
                    "target",
                    "altinn3_reference",
                    "criticality",
                    ("planned_start", "target_date"),
                    ("actual_start", "actual_done"),
                )
            },
        ),
        (_("Status"), {"fields": ("status", "status_changed_at", "version", "expected_version")}),
        (_("Contact"), {"fields": ("contact_name", "contact_email", "notes")}),
    )
    related_fieldsets = ((_("Dependencies and history"), {"fields": ("dependency_summary", "status_history")}),)

    def view_on_site(self, obj: Service) -> str:
        return reverse("migration_app:service_detail", args=[obj.pk])

    def get_fieldsets(self, request: HttpRequest, obj: Service | None = None) -> Any:
        if obj is None:
            return self.fieldsets
        return (*self.fieldsets, *self.related_fieldsets)

    def get_readonly_fields(self, request: HttpRequest, obj: Service | None = None) -> tuple[str, ...]:
        readonly = ("status", "status_changed_at", "version")
        if obj is None:
            return readonly
        # The natural key identifies the edition for imports; changing it would make a different service.
        return (*readonly, "service_code", "edition_code", "dependency_summary", "status_history")

    @admin.display(description=_("dependencies"))
    def dependency_summary(self, obj: Service) -> str:
        dependencies = obj.dependencies.select_related("depends_on_service", "depends_on_capability")
        add_url = reverse("admin:migration_app_dependency_add") + f"?service={obj.pk}"
        rows = format_html_join(
            "",
            "<li>{} ({})</li>",
            ((d.depends_on_service or d.depends_on_capability, d.get_strength_display()) for d in dependencies),
        )
        listing = format_html("<ul>{}</ul>", rows) if rows else gettext("None declared.")
        return format_html('{} <a href="{}">{}</a>', listing, add_url, gettext("Add a dependency"))

    @admin.display(description=_("status history"))
    def status_history(self, obj: Service) -> str:
        changes = obj.status_changes.select_related("changed_by")[:20]
        rows = format_html_join(
            "",
            "<li>{}: {} → {} ({}) {}</li>",
            (
                (
                    f"{c.changed_at:%Y-%m-%d %H:%M}",
                    c.get_from_status_display(),
                    c.get_to_status_display(),
                    c.changed_by or gettext("system"),
                    c.comment,
                )
                for c in changes
            ),
        )
        return format_html("<ul>{}</ul>", rows) if rows else gettext("No status changes yet.")

    def save_model(self, request: HttpRequest, obj: Service, form: ServiceAdminForm, change: bool) -> None:
        if not change:
            # A new edition starts as "not started"; there is no history to write yet.
            super().save_model(request, obj, form, change)
            return
        editable = {*SERVICE_EDITABLE_FIELDS, "owner"}
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in editable}
        if not data:
            return
        try:
            service_update(
                service=obj, data=data, user=request.user, expected_version=form.cleaned_data["expected_version"]
            )
        except StaleVersionError as exc:
            setattr(request, _REFUSED, True)
            self.message_user(
                request,
                gettext("Not saved. %(message)s Your changes are lost; make them again on the current values.")
                % {"message": exc},
                messages.ERROR,
            )

    def log_change(self, request: HttpRequest, obj: Service, message: Any) -> Any:
        if _refused(request):
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request: HttpRequest, obj: Service) -> HttpResponse:
        if _refused(request):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        # Before the default URLs: their "<path:object_id>/" catch-all would swallow this one.
        return [
            path(
                "<path:object_id>/change-status/",
                self.admin_site.admin_view(self.change_status_view),
                name="{}_{}_change_status".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Move a service through the lifecycle via service_change_status, with a comment."""
        service = self.get_object(request, unquote(object_id))
        if service is None:
            # Django's own "doesn't exist" message and redirect; the method is private, so not in the stubs.
            missing: HttpResponse = self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
            return missing
        if not self.has_change_permission(request, service):
            raise PermissionDenied
        if request.method == "POST":
            form = ServiceStatusChangeForm(request.POST, service=service)
            from_label = service.get_status_display()
            if form.is_valid() and (updated := form.change_status(user=request.user)) is not None:
                summary = gettext("Status changed from “%(from)s” to “%(to)s”.") % {
                    "from": from_label,
                    "to": updated.get_status_display(),
                }
                self.log_change(request, updated, summary)
                self.message_user(request, summary, messages.SUCCESS)
                return redirect(
                    reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[service.pk])
                )
        else:
            form = ServiceStatusChangeForm(service=service)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Change status"),
            "subtitle": str(service),
            "opts": self.opts,
            "original": service,
            "form": form,
            "history": service.status_changes.select_related("changed_by")[:10],
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/migration_app/service/change_status.html", context)


@admin.register(Dependency)
class DependencyAdmin(admin.ModelAdmin):
    """Edges are added through dependency_add (cycles refused) and removed through
    dependency_remove. They are never edited in place: turning a soft edge hard could close a cycle.
    """

    form = DependencyAdminForm
    list_display = ("service", "target", "strength", "note")
    list_select_related = ("service", "depends_on_service", "depends_on_capability")
    list_filter = ("strength", "depends_on_capability", "service__owner")
    search_fields = (
        "service__service_code",
        "service__name_nb",
        "depends_on_service__service_code",
        "depends_on_service__name_nb",
        "depends_on_capability__key",
        "depends_on_capability__name_nb",
        "note",
    )
    autocomplete_fields = ("service", "depends_on_service", "depends_on_capability")

    @admin.display(description=_("depends on"))
    def target(self, obj: Dependency) -> object:
        return obj.depends_on_service or obj.depends_on_capability

    def has_change_permission(self, request: HttpRequest, obj: Dependency | None = None) -> bool:
        return False

    def get_form(
        self, request: HttpRequest, obj: Dependency | None = None, change: bool = False, **kwargs: Any
    ) -> type[DependencyAdminForm]:
        # modelform_factory subclasses ``self.form``, which is DependencyAdminForm.
        form = cast("type[DependencyAdminForm]", super().get_form(request, obj, change=change, **kwargs))
        form.user = request.user  # the class is made per request by modelform_factory
        return form

    def save_model(self, request: HttpRequest, obj: Dependency, form: DependencyAdminForm, change: bool) -> None:
        try:
            created = dependency_add(
                service=obj.service,
                depends_on_service=obj.depends_on_service,
                depends_on_capability=obj.depends_on_capability,
                strength=obj.strength,
                note=obj.note,
                user=request.user,
            )
        except ValidationError as exc:
            # Someone added a conflicting edge between the form's trial run and now.
            setattr(request, _REFUSED, True)
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        obj.pk, obj.created_at, obj.version = created.pk, created.created_at, created.version
        obj._state.adding = False

    def log_addition(self, request: HttpRequest, obj: Dependency, message: Any) -> Any:
        if _refused(request):
            return None
        return super().log_addition(request, obj, message)

    def response_add(self, request: HttpRequest, obj: Dependency, post_url_continue: str | None = None) -> HttpResponse:
        if _refused(request):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)

    def delete_model(self, request: HttpRequest, obj: Dependency) -> None:
        dependency_remove(dependency=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Dependency]) -> None:
        for dependency in queryset.select_related("service"):
            dependency_remove(dependency=dependency, user=request.user)


@admin.register(StatusChange)
class StatusChangeAdmin(admin.ModelAdmin):
    """History is data: written only by service_change_status, never added, edited or deleted here."""

    list_display = ("changed_at", "service", "from_status", "to_status", "changed_by", "comment")
    list_select_related = ("service", "changed_by")
    list_filter = ("to_status", "from_status", "service__owner")
    search_fields = ("service__service_code", "service__name_nb", "comment", "changed_by__username")
    date_hierarchy = "changed_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: StatusChange | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: StatusChange | None = None) -> bool:
        return False


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    list_display = ("date", "key", "name_nb", "name_en", "is_deadline")
    list_filter = ("is_deadline",)
    search_fields = ("key", "name_nb", "name_en")
    ordering = ("date", "key")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    # "source" tells a membership granted here from one synchronised from single sign-on, which the
    # next SSO sign-in may change or remove (docs/sso.md).
    list_display = ("user", "owner", "role", "source")
    list_select_related = ("user", "owner")
    list_filter = ("role", "source", "owner")
    search_fields = ("user__username", "user__email", "owner__code", "owner__name_nb")
    autocomplete_fields = ("user", "owner")


@admin.register(ReportPreference)
class ReportPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "receive_weekly", "language", "updated_at")
    list_select_related = ("user",)
    list_filter = ("receive_weekly", "language")
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user",)


@admin.register(WeeklyReportDelivery)
class WeeklyReportDeliveryAdmin(admin.ModelAdmin):
    """The delivery ledger, read-only: it is the record of what was sent, written by the e-mail service."""

    list_display = ("iso_week", "recipient", "kind", "status", "attempts", "message_id")
    list_select_related = ("recipient",)
    list_filter = ("status", "kind", "iso_week")
    search_fields = ("recipient__username", "recipient__email", "message_id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WeeklyReportDelivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WeeklyReportDelivery | None = None) -> bool:
        return False


admin.site.site_header = _("Migration tracker administration")
admin.site.site_title = _("Migration tracker")
admin.site.index_title = _("Catalog and programme data")
