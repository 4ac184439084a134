"""Forms for the pages and the admin. Forms validate input and present errors; every write they trigger
goes through ``services``, whose ValidationErrors are turned back into field errors here.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import localize
from django.utils.translation import gettext_lazy as _

from .choices import DependencyStrength, MigrationStatus, ReportLanguage
from .engine.lifecycle import allowed_targets, check_transition
from .models import SERVICE_EDITABLE_FIELDS, Dependency, PlatformCapability, Service
from .services.catalog import service_change_status
from .services.checks import StaleVersionError, User
from .services.dependencies import dependency_add
from .validators import validate_dependency_target


class OneOrAllSelect(forms.SelectMultiple):
    """A single-choice ``<select>`` with an "All" option, for filters that accept repeated values.

    The page offers one value at a time, but the field still reads every value of the parameter, so a
    shared link or an API-style query such as ``?status=analysis&status=testing`` keeps working. "All"
    submits an empty value, which the filter reads as no filter.
    """

    allow_multiple_selected = False
    all_label = _("All")

    def use_required_attribute(self, initial: Any) -> bool:
        # "All" is always a valid answer. (Select's own check would also iterate the choices: a query.)
        return False

    def optgroups(self, name: str, value: list[str], attrs: dict[str, Any] | None = None) -> list:
        groups = super().optgroups(name, value, attrs)
        # The stubs type an option's label as ``str``; rendering now, in the request's language, is the same.
        everything = self.create_option(name, "", str(self.all_label), not any(value), 0)
        return [(None, [everything], 0), *groups]


def _widget_set(field: forms.Field, widget: forms.Widget) -> None:
    """Give a form field another widget, set up as the field's own constructor sets up its widget."""
    widget.is_required = field.required
    widget.attrs.update(field.widget_attrs(widget))
    if isinstance(widget, forms.widgets.ChoiceWidget):
        widget.choices = getattr(field, "choices", ())
    field.widget = widget


class ServiceFilterForm(forms.Form):
    """The catalog page's filter bar: the controls for ``filters.ServiceFilterSet``'s filters.

    The FilterSet says what each parameter means; this form (the FilterSet's base form on the page,
    ``views.catalog.CatalogFilterSet``) says how the page offers it, with Designsystemet classes.
    """

    # One value at a time, with "All".
    SELECTS: tuple[str, ...] = ("owner", "type", "status", "readiness", "capability")
    # Applied from links and the API; the page does not offer these controls yet (the UI issue decides
    # where they go), so they ride along as hidden inputs and the filter bar looks as before.
    HIDDEN: tuple[str, ...] = ("target_date_from", "target_date_to", "volume_min", "volume_max")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name in self.SELECTS:
                _widget_set(field, OneOrAllSelect())
            elif name in self.HIDDEN:
                _widget_set(field, forms.HiddenInput())
            if not field.widget.is_hidden:
                field.widget.attrs.setdefault("class", "ds-input")
        if "q" in self.fields:
            widget = self.fields["q"].widget
            widget.input_type = "search"
            widget.attrs.update({"placeholder": _("Name or code, e.g. 3906/2"), "autocomplete": "off"})


def mark_invalid(form: forms.BaseForm) -> None:
    """aria-invalid on fields with errors: screen readers announce them, Designsystemet colours them."""
    if form.is_bound:
        for name in form.errors:
            if name in form.fields:
                form.fields[name].widget.attrs["aria-invalid"] = "true"


def add_service_errors(form: forms.BaseForm, exc: ValidationError, field_map: Mapping[str, str] | None = None) -> None:
    """Attach a service's ValidationError to the form: dict keys to fields where the form has them."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, errors in exc.error_dict.items():
        name = (field_map or {}).get(key, key)
        form.add_error(name if name in form.fields else None, ValidationError(errors))


class ServiceAdminForm(forms.ModelForm):
    """Service edits in the admin. ``expected_version`` carries the version the editor saw, so a save on
    top of someone else's change is refused instead of silently overwriting it.
    """

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Service
        # The natural key (on creation only) and what service_update may change; never status or version.
        fields = ("service_code", "edition_code", "owner", *SERVICE_EDITABLE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["expected_version"].initial = self.instance.version
            self.fields["expected_version"].required = True

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean returns (the stubs say it may be None)
        expected = cleaned.get("expected_version")
        # Early, friendly check with the user's input kept; service_update's compare-and-set is the real guard.
        if self.instance.pk and expected is not None and expected != self.instance.version:
            stale = StaleVersionError(expected=expected, current=self.instance.version)
            raise ValidationError(
                _("%(message)s Reload the page to see the current values, then make your change again.")
                % {"message": stale},
                code="stale_version",
            )
        return cleaned


class ServiceStatusChangeForm(forms.Form):
    """Move a service one step through the lifecycle, with a comment for the history."""

    to_status = forms.ChoiceField(label=_("New status"), choices=MigrationStatus.choices)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Saved in the status history. Required when moving back or reopening."),
    )
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args: Any, service: Service, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service = service
        labels = dict(MigrationStatus.choices)
        # Offer only the moves the lifecycle allows; the field accepts any status so that a move made
        # illegal by someone else in the meantime is refused by the service, with its reason.
        # Nothing is preselected: the first allowed move can be a step back, which should be a choice.
        self.fields["to_status"].widget.choices = [
            ("", "---------"),
            *((status, labels[status]) for status in allowed_targets(service.status)),
        ]
        self.fields["expected_version"].initial = service.version

    @property
    def has_targets(self) -> bool:
        return bool(allowed_targets(self.service.status))

    def targets_needing_comment(self) -> Iterable[str]:
        labels = dict(MigrationStatus.choices)
        return [
            str(labels[status])
            for status in allowed_targets(self.service.status)
            if check_transition(self.service.status, status).needs_comment
        ]

    def change_status(self, *, user: User) -> Service | None:
        """Call ``service_change_status``; on refusal, add its message to the form and return None."""
        try:
            return service_change_status(
                service=self.service,
                to_status=self.cleaned_data["to_status"],
                user=user,
                comment=self.cleaned_data["comment"],
                expected_version=self.cleaned_data["expected_version"],
            )
        except StaleVersionError as exc:
            self.add_error(None, ValidationError(str(exc), code="stale_version"))
        except ValidationError as exc:
            add_service_errors(self, exc, field_map={"status": "to_status"})
        return None


class _DryRun(Exception):
    """Raised inside a savepoint to roll back a trial call of a service."""


class DependencyAdminForm(forms.ModelForm):
    """Add a dependency edge in the admin. ``clean`` runs ``dependency_add`` in a savepoint that
    is always rolled back, so a cycle or duplicate shows as a form error with the service's own message;
    the admin's ``save_model`` then makes the real call.
    """

    user: User = None

    class Meta:
        model = Dependency
        fields = ["service", "depends_on_service", "depends_on_capability", "strength", "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused_by_service = False

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean returns (the stubs say it may be None)
        if self.errors or cleaned.get("service") is None:
            return cleaned
        try:
            with transaction.atomic():
                dependency_add(
                    service=cleaned["service"],
                    depends_on_service=cleaned.get("depends_on_service"),
                    depends_on_capability=cleaned.get("depends_on_capability"),
                    strength=cleaned["strength"],
                    note=cleaned.get("note", ""),
                    user=self.user,
                )
                raise _DryRun
        except _DryRun:
            pass
        except ValidationError as exc:
            self._refused_by_service = True
            add_service_errors(self, exc)
        return cleaned

    def _post_clean(self) -> None:
        # The service's message ("would create a cycle: A → B → A") says more than the model's generic
        # constraint names, so skip model validation when the service has already refused.
        if self._refused_by_service:
            return
        super()._post_clean()  # type: ignore[misc]  # Django's private model-validation hook; not in the stubs


class ServiceEditForm(forms.ModelForm):
    """The service page's edit form. ``expected_version`` is the version the form was rendered from;
    ``service_update`` refuses the save when someone else has saved since.
    """

    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    class Meta:
        model = Service
        fields = SERVICE_EDITABLE_FIELDS
        widgets = {
            "valid_from": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "valid_to": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "planned_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "target_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "actual_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "actual_done": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "expected_version" not in self.initial:
            self.fields["expected_version"].initial = self.instance.version
        for name, field in self.fields.items():
            if name != "expected_version":
                field.widget.attrs.setdefault("class", "ds-input")
                # Each field also carries the value it was rendered with, so a stale save can tell the
                # user's own changes from someone else's (and re-apply only the user's).
                field.show_hidden_initial = True

    def original(self, name: str) -> Any:
        """The value the field had when the form was rendered (from its hidden initial input)."""
        field = self.fields[name]
        # What the private BaseForm._widget_data_value does, through the widget's public method.
        raw = field.hidden_widget().value_from_datadict(self.data, self.files, self[name].html_initial_name)
        try:
            return field.clean(raw)
        except ValidationError:
            return raw

    def user_changed(self) -> list[str]:
        return [name for name in self.changed_data if name != "expected_version"]

    def rebased_data(self, stored: Service) -> dict[str, Any]:
        """Form data on top of ``stored``: the user's changed fields keep their input, every other field
        (and every hidden initial) takes the stored value, and the version becomes the stored one."""
        fresh = ServiceEditForm(instance=stored)
        mine = set(self.user_changed())
        data: dict[str, Any] = {"expected_version": str(stored.version)}
        for name in SERVICE_EDITABLE_FIELDS:
            bound = fresh[name]
            value = bound.field.widget.format_value(bound.value())
            if isinstance(value, list):  # a select formats its value as a list of selected values
                value = value[0] if value else ""
            stored_text = "" if value is None else str(value)
            data[bound.html_initial_name] = stored_text
            data[name] = self.data.get(name, "") if name in mine else stored_text
        return data

    def conflicts(self, stored: Service) -> list[dict[str, Any]]:
        """After a stale save: each field that the user or someone else changed, as the page lists it
        (label, the user's value or None, the stored value, who changed it), values as people read them."""
        mine = set(self.user_changed())
        theirs = {name for name in SERVICE_EDITABLE_FIELDS if self.original(name) != getattr(stored, name)}
        return [
            {
                "label": str(self.fields[name].label),
                "mine": self._display(name, self.cleaned_data[name]) if name in mine else None,
                "stored": self._display(name, getattr(stored, name)),
                "theirs": name in theirs,
                "both": name in mine and name in theirs,
            }
            for name in SERVICE_EDITABLE_FIELDS
            if name in mine or name in theirs
        ]

    def _display(self, name: str, value: Any) -> str:
        """A value as a person reads it: choice labels, dates in the locale, "–" for empty."""
        if value in (None, ""):
            return "–"
        choices = getattr(self.fields[name], "choices", None)
        if choices:
            return str(dict(choices).get(value, value))
        if isinstance(value, datetime.datetime):
            value = timezone.localtime(value) if timezone.is_aware(value) else value
        return str(localize(value))

    def _post_clean(self) -> None:
        # Model validation runs in service_update (full_clean there), with the same messages.
        pass

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in SERVICE_EDITABLE_FIELDS}


class DependencyAddForm(forms.Form):
    """Declare that the service needs another service (by its Altinn II key) or a capability."""

    depends_on = forms.CharField(
        label=_("Another service"),
        required=False,
        max_length=80,
        help_text=_("Service code and edition, e.g. 3906/2."),
    )
    capability = forms.ModelChoiceField(
        label=_("or a platform capability"), queryset=PlatformCapability.objects.order_by("name_nb"), required=False
    )
    strength = forms.ChoiceField(
        label=_("Strength"), choices=DependencyStrength.choices, initial=DependencyStrength.HARD
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "ds-input")

    def clean_depends_on(self) -> Service | None:
        value = self.cleaned_data["depends_on"].strip()
        if not value:
            return None
        code, _sep, edition = value.partition("/")
        lookup = Service.objects.filter(service_code=code.strip())
        if edition.strip():
            if not edition.strip().isdigit():
                raise ValidationError(_("Write the service as code/edition, e.g. 3906/2."))
            lookup = lookup.filter(edition_code=int(edition))
        found = list(lookup.select_related("owner")[:2])
        if not found:
            raise ValidationError(_("No service %(key)s.") % {"key": value})
        if len(found) > 1:
            raise ValidationError(
                _("Service %(key)s has several editions: add the edition, e.g. %(key)s/1.") % {"key": value}
            )
        return found[0]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what Form.clean returns (the stubs say it may be None)
        if not self.errors:
            validate_dependency_target(cleaned.get("depends_on"), cleaned.get("capability"))
        return cleaned

    def add(self, *, service: Service, user: User) -> Dependency | None:
        """Call ``dependency_add``; a refusal (a cycle, a duplicate) becomes a form error."""
        try:
            return dependency_add(
                service=service,
                depends_on_service=self.cleaned_data["depends_on"],
                depends_on_capability=self.cleaned_data["capability"],
                strength=self.cleaned_data["strength"],
                note=self.cleaned_data["note"],
                user=user,
            )
        except ValidationError as exc:
            add_service_errors(
                self, exc, field_map={"depends_on_service": "depends_on", "depends_on_capability": "capability"}
            )
        return None


class ReportPreferenceForm(forms.Form):
    """Whether the user receives the weekly report by e-mail, and in which language."""

    receive_weekly = forms.BooleanField(
        label=_("Send me the weekly report by e-mail"),
        required=False,
        help_text=_("Every Monday morning: your organisation's progress, blockers, deadlines and forecast."),
    )
    language = forms.ChoiceField(label=_("Language of the report"), choices=ReportLanguage.choices)
