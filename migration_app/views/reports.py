"""Pages for the weekly e-mail report: unsubscribe by signed link, preferences, and the leads' preview.

Thin views (STYLE.md): reads come from ``selectors``, writes go through ``services.accounts``
(``report_unsubscribe``, ``report_preferences_update``), the report itself is built by ``reports`` and
rendered by ``emails``, exactly as a delivery renders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.decorators import csp
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User as Account
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from .. import emails
from ..forms import ReportPreferenceForm
from ..reports import Recipient, ReportWeek, weekly_report
from ..selectors.access import user_is_lead
from ..selectors.weekly_reports import report_preference_for, weekly_report_recipients
from ..services.accounts import report_preferences_update, report_unsubscribe
from ..services.weekly_reports import weekly_report_digests

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@require_http_methods(["GET", "POST"])
@csrf_exempt  # The signed token is the credential; mail clients' one-click POST (RFC 8058) has no CSRF token.
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (link scanners fetch links, and must not unsubscribe anyone); POST acts."""
    user_id = emails.unsubscribe_token_user_id(token)
    if user_id is None:
        return render(request, "migration_app/reports/unsubscribe.html", {"invalid": True}, status=400)
    if request.method == "POST":
        if not report_unsubscribe(user_id=user_id):
            return render(request, "migration_app/reports/unsubscribe.html", {"invalid": True}, status=400)
        return render(request, "migration_app/reports/unsubscribe.html", {"done": True})
    return render(request, "migration_app/reports/unsubscribe.html", {"token": token})


def _account(request: HttpRequest) -> Account:
    """The signed-in account of a ``@login_required`` view, typed as the services take it."""
    user = request.user
    if not isinstance(user, Account):
        # Unreachable: login_required sends anonymous visitors to sign in, and AUTH_USER_MODEL is auth.User.
        raise PermissionDenied
    return user


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Receive the weekly report or not, and in which language."""
    user = _account(request)
    preference = report_preference_for(user)
    form = ReportPreferenceForm(
        request.POST or None,
        initial={"receive_weekly": preference.receive_weekly, "language": preference.language},
    )
    if request.method == "POST" and form.is_valid():
        report_preferences_update(
            user=user,
            receive_weekly=form.cleaned_data["receive_weekly"],
            language=form.cleaned_data["language"],
        )
        messages.success(request, _("Your report preferences are saved."))
        return redirect("reports:preferences")
    return render(
        request,
        "migration_app/reports/preferences.html",
        {
            "form": form,
            "has_email": bool(user.email),
            "is_lead": user_is_lead(user),
        },
    )


@dataclass(frozen=True)
class PreviewChoice:
    """Whose report, for which week, as the preview page and its e-mail frame both read it from the query."""

    recipients: list[Recipient]
    chosen: Recipient | None
    week: ReportWeek
    due: ReportWeek
    today: date
    error: StrOrPromise


def _preview_choice(request: HttpRequest) -> PreviewChoice:
    """The recipient (``user``) and ISO week (``week``) asked for, falling back to the due week and to the
    lead's own report; leads only."""
    if not user_is_lead(request.user):
        raise PermissionDenied(_("Only project leads may preview other people's reports."))
    today = timezone.localdate()
    due = ReportWeek.due(today)
    recipients = weekly_report_recipients(include_opted_out=True)
    week_text = request.GET.get("week", "").strip() or due.label
    error: StrOrPromise = ""
    try:
        week = ReportWeek.parse(week_text)
    except ValueError:
        week, error = (
            due,
            _("“%(week)s” is not an ISO week such as %(example)s.")
            % {
                "week": week_text,
                "example": due.label,
            },
        )
    if week.monday > today:
        week, error = due, _("That week has not started yet.")

    chosen = None
    user_id = request.GET.get("user", "")
    if user_id.isdigit():
        chosen = next((r for r in recipients if r.user_id == int(user_id)), None)
        if chosen is None:
            error = error or _("That user does not receive the weekly report (no e-mail address, or not a member).")
    elif recipients:
        chosen = next((r for r in recipients if r.user_id == request.user.pk), recipients[0])
    return PreviewChoice(recipients=recipients, chosen=chosen, week=week, due=due, today=today, error=error)


def _preview_render(choice: PreviewChoice) -> emails.RenderedEmail | None:
    """The chosen report rendered as a delivery renders it: stored digests for a sent week, otherwise built
    from the history on the fly and not stored."""
    if choice.chosen is None:
        return None
    digests = weekly_report_digests(
        week=choice.week,
        owner_ids=choice.chosen.owner_ids,
        programme=choice.chosen.is_lead,
        store=False,
        today=choice.today,
    )
    return emails.weekly_report_render(
        weekly_report(choice.chosen, choice.week, programme=digests.programme, owners=digests.owners)
    )


@login_required
@require_GET
def preview(request: HttpRequest) -> HttpResponse:
    """Leads: any recipient's report for any week, rendered exactly as it is (or would be) sent.

    A week whose digests are stored shows them (what was sent); any other week is built from the
    history on the fly and not stored. The HTML part is shown in a sandboxed frame loaded from
    ``preview_html``, so the page itself keeps the site's strict Content-Security-Policy.
    """
    choice = _preview_choice(request)
    recipients = choice.recipients
    names = dict(get_user_model().objects.filter(pk__in=[r.user_id for r in recipients]).values_list("pk", "username"))
    return render(
        request,
        "migration_app/reports/preview.html",
        {
            "recipients": [(r, names.get(r.user_id, "")) for r in recipients],
            "chosen": choice.chosen,
            "week": choice.week,
            "due": choice.due,
            "rendered": _preview_render(choice),
            "error": choice.error,
            "complete": choice.week.is_complete(choice.today),
        },
    )


# The e-mail's HTML is written for mail clients, with inline styles, so it cannot live under the site's
# policy (a srcdoc frame would inherit it and lose every style). It gets a policy of its own instead:
# nothing may load or run except its inline styles and embedded images; ``sandbox`` makes it an opaque
# origin even when opened on its own; only the preview page (same origin) may frame it.
EMAIL_PREVIEW_POLICY = {
    "default-src": [NONE],
    "style-src": [UNSAFE_INLINE],
    "img-src": [SELF, "data:"],
    "frame-ancestors": [SELF],
    "base-uri": [NONE],
    "form-action": [NONE],
    "sandbox": True,
}


@csp(EMAIL_PREVIEW_POLICY)
@xframe_options_sameorigin
@login_required
@require_GET
def preview_html(request: HttpRequest) -> HttpResponse:
    """The HTML part of the previewed report on its own, for the preview page's sandboxed frame."""
    rendered = _preview_render(_preview_choice(request))
    if rendered is None:
        return HttpResponse(status=404)
    return HttpResponse(rendered.html, content_type="text/html; charset=utf-8")
