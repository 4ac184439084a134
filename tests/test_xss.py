"""User text is escaped everywhere: a corpus of XSS payloads in every user-writable text field, on every page
that shows it, checked by parsing the HTML as a browser would rather than by searching strings.

Each field gets ``<marker><payload>``, the marker (``ZQ07``) naming the field. A page passes when

* nothing on it can run script: no ``on*`` attribute, no inline ``<script>`` (only ``src=`` scripts and JSON
  data), no ``javascript:``/``vbscript:``/``data:text/html`` URL, no ``<base>``, ``<object>``, ``<embed>`` or
  refresh, no iframe without a sandbox;
* every marker in the raw HTML is followed, once parsed, by its whole payload as text or attribute value
  (URL-encoded in a link, JSON-escaped in the API's pretty-printed JSON): a payload parsed as markup would
  cut it short, and a marker inside a tag name, attribute name or comment would not be text at all;
* the fields the page is meant to show are there, which proves they were rendered (and so escaped).

Payloads are stored straight in the database, past the validation that would refuse some of them, so the
escaping is tested for data from any source (imports, the admin, single sign-on). The same catalog's API
answers must be JSON with every payload intact. Query strings and form input that pages repeat are checked
the same way; the validation of URL, e-mail and organisation-code fields has its own tests at the end.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, unquote_plus

import orjson
import pytest
from django.contrib.auth.models import Group
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from migration_app.choices import PROJECT_LEADS_GROUP, CapabilityStatus, DependencyStrength, MigrationStatus
from migration_app.models import (
    Dependency,
    Membership,
    Milestone,
    PlatformCapability,
    ReportPreference,
    Service,
    ServiceOwner,
    StatusChange,
)
from migration_app.reports import ReportWeek
from migration_app.services.recompute import portfolio_recompute
from migration_app.services.snapshots import progress_snapshot_take
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LONG_TAIL = "<script>alert(1)</script>"
PAYLOADS: dict[str, str] = {
    "script": "<script>alert(1)</script>",
    "img-onerror": '"><img src=x onerror=alert(1)>',
    "svg-onload": "'><svg onload=alert(1)>",
    # Out of the elements whose text is not markup (<title>, <textarea>), into a script.
    "rcdata-breakout": "</title></textarea><script>alert(1)</script>",
    "attribute-double": '" autofocus onfocus="alert(1)" x="',
    "attribute-single": "' autofocus onfocus='alert(1)' x='",
    "javascript-url": "javascript:alert(1)",
    "template-syntax": '{{7*7}}{% now "Y" %}{{ request.user }}${7*7}',
    "iframe-srcdoc": '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "already-escaped": "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#60;b&#62;",
    # Out of an HTML comment or a script block (JSON data), and U+2028, which ends a line in JavaScript.
    "comment-script-breakout": "--></script><script>alert(1)</script><!--\u2028",
    "unicode-rtl": "\u202egnp.exe\u202c<b>x</b>\u200b\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "base-style-details": '<base href="//evil.example/"><style>*{display:none}</style><details open ontoggle=alert(1)>',
    "mixed-case-entity": '<ScRiPt>alert(1)</sCrIpT><a href="jav&#x09;ascript:alert(1)">x</a>',
    "long": "",  # filled per field: as long as the field allows, then a script tag
}
MARKER = re.compile(r"ZQ\d\d")


# --- The catalog: every user-writable text field that a page shows ----------------------------------------


@dataclass(frozen=True)
class TextField:
    """One user-writable text field of one object in the catalog."""

    key: str  # e.g. "service.notes"
    model: type[models.Model]
    name: str

    @property
    def max_length(self) -> int:
        return self.model._meta.get_field(self.name).max_length or 5000


def text_fields() -> list[TextField]:
    from django.contrib.auth import get_user_model

    user = get_user_model()
    per_object = [
        ("owner", ServiceOwner, ("name_nb", "name_nn", "name_en", "contact_email")),
        ("other_owner", ServiceOwner, ("name_nb",)),
        ("capability", PlatformCapability, ("name_nb", "name_en", "description")),
        (
            "service",
            Service,
            (
                "service_code",
                "name_nb",
                "name_en",
                "edition_name",
                "altinn3_reference",
                "contact_name",
                "contact_email",
                "notes",
            ),
        ),
        ("upstream", Service, ("name_nb",)),
        ("service_edge", Dependency, ("note",)),
        ("capability_edge", Dependency, ("note",)),
        ("change", StatusChange, ("comment",)),
        ("milestone", Milestone, ("name_nb", "name_en", "description")),
        ("user", user, ("username", "first_name", "last_name")),
    ]
    return [TextField(f"{obj}.{name}", model, name) for obj, model, names in per_object for name in names]


FIELDS = text_fields()
MARKERS = {f.key: f"ZQ{index:02d}" for index, f in enumerate(FIELDS)}
FIELD_OF_MARKER = {marker: key for key, marker in MARKERS.items()}


def stored_value(text_field: TextField, payload_id: str) -> tuple[str, str | None]:
    """(value to store, payload it carries); a payload too long for the field is left out of it."""
    marker = MARKERS[text_field.key]
    if payload_id == "long":
        payload = "A" * (text_field.max_length - len(marker) - len(LONG_TAIL)) + LONG_TAIL
    else:
        payload = PAYLOADS[payload_id]
    if len(marker + payload) > text_field.max_length:
        return marker + "x", None
    return marker + payload, payload


@dataclass
class Catalog:
    """Two organisations, a capability, three services (one blocked by the others), edges, a status change
    and the deadline, written straight to the database with the payload in every text field."""

    objects: dict[str, Any]
    payloads: dict[str, str]  # marker → payload it is followed by
    present: set[str]  # field keys that carry the payload

    def __getattr__(self, name: str) -> Any:
        try:
            return self.objects[name]
        except KeyError:
            raise AttributeError(name) from None


def build_catalog(payload_id: str) -> Catalog:
    values: dict[str, dict[str, str]] = {}
    payloads, present = {}, set()
    for text_field in FIELDS:
        value, payload = stored_value(text_field, payload_id)
        obj, name = text_field.key.split(".")
        values.setdefault(obj, {})[name] = value
        payloads[MARKERS[text_field.key]] = payload if payload is not None else "x"
        if payload is not None:
            present.add(text_field.key)
    if "service.service_code" not in present:  # the natural key must stay unique and short
        values["service"]["service_code"] = "3906"

    today = timezone.localdate()
    user = UserFactory(**values["user"], email="lead@example.no", is_staff=True, is_superuser=True)
    user.groups.add(Group.objects.get_or_create(name=PROJECT_LEADS_GROUP)[0])
    ReportPreference.objects.create(user=user, language="nb")
    # javascript: in a URL field: refused by validation everywhere, so only the database can hold it.
    owner = ServiceOwner.objects.create(code="skd", homepage="javascript:alert(1)", **values["owner"])
    other_owner = ServiceOwner.objects.create(code="brg", name_en="", **values["other_owner"])
    Membership.objects.create(user=user, owner=owner, role="editor")
    capability = PlatformCapability.objects.create(
        key="payment",
        status=CapabilityStatus.IN_PROGRESS,
        planned_date=today + datetime.timedelta(days=90),
        **values["capability"],
    )
    service = Service.objects.create(
        owner=owner,
        edition_code=2,
        service_type="FormTask",
        target="AltinnApp",
        status=MigrationStatus.DEVELOPMENT,
        target_date=today + datetime.timedelta(days=10),
        yearly_volume=500_000,
        **values["service"],
    )
    upstream = Service.objects.create(
        owner=other_owner,
        service_code="5000",
        edition_code=1,
        service_type="FormTask",
        name_en="",
        status=MigrationStatus.ANALYSIS,
        target_date=today + datetime.timedelta(days=200),
        **values["upstream"],
    )
    dependent = Service.objects.create(
        owner=owner, service_code="3907", edition_code=1, service_type="FormTask", name_nb="Avhengig", name_en=""
    )
    service_edge = Dependency.objects.create(
        service=service, depends_on_service=upstream, strength=DependencyStrength.HARD, **values["service_edge"]
    )
    capability_edge = Dependency.objects.create(
        service=service,
        depends_on_capability=capability,
        strength=DependencyStrength.HARD,
        **values["capability_edge"],
    )
    Dependency.objects.create(service=dependent, depends_on_service=service, strength=DependencyStrength.HARD)
    change = StatusChange.objects.create(
        service=service,
        from_status=MigrationStatus.ANALYSIS,
        to_status=MigrationStatus.DEVELOPMENT,
        changed_by=user,
        changed_at=timezone.now(),
        **values["change"],
    )
    Milestone.objects.all().delete()  # migration 0002's dates; the deadline below is the only one
    milestone = Milestone.objects.create(
        key="altinn2-shutdown", date=today + datetime.timedelta(days=400), is_deadline=True, **values["milestone"]
    )
    progress_snapshot_take()
    portfolio_recompute()
    objects = {
        "user": user,
        "owner": owner,
        "other_owner": other_owner,
        "capability": capability,
        "service": service,
        "upstream": upstream,
        "dependent": dependent,
        "service_edge": service_edge,
        "capability_edge": capability_edge,
        "change": change,
        "milestone": milestone,
    }
    return Catalog(objects, payloads, present)


# --- Reading a page as a browser would ---------------------------------------------------------------------

# Attributes whose value a browser follows or fetches as a URL.
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "poster", "data", "background", "xlink:href"}
URL_ATTRIBUTES |= {"ping", "cite", "longdesc", "manifest", "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete"}
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:text/html", "data:image/svg")
NEVER = {"base", "object", "embed", "applet", "frame", "frameset"}


def dangerous_url(value: str) -> bool:
    # Browsers ignore white space and control characters anywhere in a scheme ("jav\tascript:").
    compact = re.sub(r"[\x00-\x20]", "", value).lower()
    return compact.startswith(DANGEROUS_SCHEMES)


def json_strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from json_strings(key)
            yield from json_strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from json_strings(value)


class MarkupAudit(HTMLParser):
    """Collects what could run script, and every string (text, attribute values, JSON data) that a marker
    can be found in, as the page is parsed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.dangers: list[str] = []
        self.strings: list[tuple[str, str]] = []  # (kind, value): kind "text", "json" or an attribute name
        self.markup_markers = 0  # markers in tag or attribute names, comments or declarations: never text
        self.json_markers = 0  # markers in the raw text of JSON data blocks (decoded into self.strings)
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name, value in attrs:
            self.markup_markers += len(MARKER.findall(name))
            if name.startswith("on"):
                self.dangers.append(f"<{tag} {name}=...>: an event handler attribute")
            if value is None:
                continue
            if name in URL_ATTRIBUTES and dangerous_url(value):
                self.dangers.append(f"<{tag} {name}={value[:60]!r}>: a script URL")
            self.strings.append((name, value))
        self.markup_markers += len(MARKER.findall(tag))
        if tag in NEVER:
            self.dangers.append(f"<{tag}>: never part of our pages")
        if tag == "meta" and (attributes.get("http-equiv") or "").lower() == "refresh":
            self.dangers.append("<meta http-equiv=refresh>")
        if tag == "iframe" and "sandbox" not in attributes:
            self.dangers.append("<iframe> without sandbox")
        if tag == "script":
            kind = (attributes.get("type") or "").lower()
            if not attributes.get("src") and kind != "application/json":
                self.dangers.append("an inline <script>")
            self._script = attributes

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._script = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None and (self._script.get("type") or "").lower() == "application/json":
            self.json_markers += len(MARKER.findall(data))
            try:
                self.strings.extend(("json", text) for text in json_strings(json.loads(data)))
            except ValueError:
                self.dangers.append("a JSON <script> whose content is not JSON")
            return
        self.strings.append(("text" if self._script is None else "script", data))

    def handle_comment(self, data: str) -> None:
        self.markup_markers += len(MARKER.findall(data))

    def handle_decl(self, decl: str) -> None:
        self.markup_markers += len(MARKER.findall(decl))

    handle_pi = handle_decl
    unknown_decl = handle_decl


def whitespace_normalised(text: str) -> str:
    """Templates may fold white space (``truncatewords`` joins words with spaces, the plain-text e-mail splits
    lines at U+2028, ``get_full_name`` strips): no markup can hide in that."""
    return re.sub(r"\s+", " ", text)


def followed_by_payload(rest: str, payload: str) -> bool:
    """Whether the text after a marker is its whole payload, as text: as itself, JSON-escaped inside JSON shown
    as text (the browsable API pretty-prints its JSON in a <pre>), percent-encoded in a URL (once, or twice for
    the admin's return-to-list link), or cut at a word boundary with an ellipsis by ``truncatewords`` (the
    admin's breadcrumbs). A payload parsed as markup ends at its first tag, which none of these can mend."""
    forms = [payload, json.dumps(payload, ensure_ascii=False)[1:-1], orjson.dumps(payload).decode()[1:-1]]
    candidates = [rest]
    for _level in range(2):
        candidates.append(unquote_plus(candidates[-1]))
    for candidate in map(whitespace_normalised, candidates):
        for form in map(whitespace_normalised, forms):
            if candidate.startswith(form.strip()):
                return True
            truncated, ellipsis, _after = candidate.partition("\u2026")
            if ellipsis and truncated.strip() and form.startswith(truncated.strip()):
                return True
    return False


@dataclass
class PageResult:
    problems: list[str] = field(default_factory=list)
    shown: set[str] = field(default_factory=set)  # field keys found whole


def audit(html: str, payloads: dict[str, str]) -> PageResult:
    """What could run script on the page, each marker not followed by its whole payload, and the fields shown."""
    parser = MarkupAudit()
    parser.feed(html)
    parser.close()
    result = PageResult(problems=list(parser.dangers))
    for kind, value in parser.strings:
        for match in MARKER.finditer(value):
            key = FIELD_OF_MARKER.get(match.group(), match.group())
            if followed_by_payload(value[match.end() :], payloads.get(match.group(), "")):
                result.shown.add(key)
            else:
                context = value[max(match.start() - 20, 0) : match.end() + 60]
                result.problems.append(f"{key} in {kind}: cut short, so part of it was read as markup: {context!r}")
    # Every marker in the raw HTML must have come back as text, a value or JSON data; one that did not was
    # inside markup (a tag or attribute name, a comment).
    as_text = sum(len(MARKER.findall(value)) for kind, value in parser.strings if kind != "json")
    if len(MARKER.findall(html)) != as_text + parser.json_markers + parser.markup_markers:
        result.problems.append("some markers are neither text, attribute values nor JSON data")
    if parser.markup_markers:
        result.problems.append(f"{parser.markup_markers} markers inside tag names, attribute names or comments")
    return result


# --- The pages ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A page to read: its name, how to reach it from the catalog, and the fields it must show."""

    name: str
    url: Callable[[Catalog], str]
    shows: frozenset[str]
    htmx: bool = False

    @property
    def generic(self) -> bool:
        """Drawn entirely by Django admin's or DRF's own templates, alike for every field: these pages are read
        with a part of the corpus that covers each context (text, attribute, textarea, length), which keeps
        the run short. Our own admin code (the service form's summaries, the status change) gets all of it."""
        return self.name.startswith(("admin:", "browsable API:")) and self.name not in OUR_ADMIN_PAGES


def fields(*keys: str) -> frozenset[str]:
    unknown = set(keys) - set(MARKERS)
    assert not unknown, unknown
    return frozenset(keys)


def admin(name: str, *args: Callable[[Catalog], Any]) -> Callable[[Catalog], str]:
    return lambda c: reverse(f"admin:migration_app_{name}", args=[arg(c) for arg in args])


SERVICE_NAMES = ("service.service_code", "service.name_en")
OUR_ADMIN_PAGES = {"admin: service", "admin: change status"}
GENERIC_PAGE_PAYLOADS = {"script", "attribute-double", "rcdata-breakout", "long"}
# Query strings and form input come back in the same contexts whatever the markup trick: text, an attribute
# value, a textarea, a URL. These payloads cover each (the others differ only as stored, longer text).
REFLECTED_PAYLOADS = [
    "script",
    "img-onerror",
    "svg-onload",
    "rcdata-breakout",
    "attribute-double",
    "attribute-single",
    "javascript-url",
    "template-syntax",
    "already-escaped",
]
PAGES: list[Page] = [
    Page("home", lambda c: reverse("migration_app:home"), fields("owner.name_en", "other_owner.name_nb")),
    Page(
        "owner page",
        lambda c: reverse("migration_app:owner_page", args=["skd"]),
        fields("owner.name_en", *SERVICE_NAMES, "upstream.name_nb", "other_owner.name_nb", "capability.name_en"),
    ),
    Page(
        "service list",
        lambda c: reverse("migration_app:service_list"),
        fields(*SERVICE_NAMES, "service.edition_name", "owner.name_en", "other_owner.name_nb", "upstream.name_nb"),
    ),
    Page(
        "service list (htmx)",
        lambda c: reverse("migration_app:service_list"),
        fields(*SERVICE_NAMES, "service.edition_name", "owner.name_en", "other_owner.name_nb", "upstream.name_nb"),
        htmx=True,
    ),
    Page(
        "service detail",
        lambda c: reverse("migration_app:service_detail", args=[c.service.pk]),
        fields(
            *SERVICE_NAMES,
            "service.edition_name",
            "service.altinn3_reference",
            "service.contact_name",
            "service.contact_email",
            "service.notes",
            "owner.name_en",
            "upstream.name_nb",
            "other_owner.name_nb",
            "capability.name_en",
            "capability.name_nb",
            "service_edge.note",
            "capability_edge.note",
            "change.comment",
            "user.first_name",
            "user.last_name",
        ),
    ),
    Page(
        "upstream service detail",
        lambda c: reverse("migration_app:service_detail", args=[c.upstream.pk]),
        fields(*SERVICE_NAMES, "upstream.name_nb", "other_owner.name_nb", "owner.name_en", "capability.name_nb"),
    ),
    Page(
        "service edit form",
        lambda c: reverse("migration_app:service_edit", args=[c.service.pk]),
        fields(
            "service.name_nb",
            "service.name_en",
            "service.edition_name",
            "service.altinn3_reference",
            "service.contact_name",
            "service.contact_email",
            "service.notes",
        ),
    ),
    Page(
        "dependency diagram",
        lambda c: reverse("migration_app:service_dependencies", args=[c.service.pk]),
        fields(*SERVICE_NAMES, "upstream.name_nb", "capability.name_en"),
    ),
    Page(
        "capabilities",
        lambda c: reverse("migration_app:capabilities"),
        fields("capability.name_en", "capability.description", *SERVICE_NAMES, "upstream.name_nb"),
    ),
    Page(
        "programme dashboard",
        lambda c: reverse("migration_app:programme"),
        fields(
            "owner.name_en",
            "other_owner.name_nb",
            "milestone.name_en",
            "milestone.description",
            *SERVICE_NAMES,
            "upstream.name_nb",
            "capability.name_en",
        ),
    ),
    Page("report preferences", lambda c: reverse("reports:preferences"), fields("user.first_name", "user.last_name")),
    Page(
        "report preview",
        lambda c: reverse("reports:preview") + f"?user={c.user.pk}&week={this_week()}",
        fields(
            "user.username",
            "user.first_name",
            "user.last_name",
            "owner.name_nb",
            "other_owner.name_nb",
            "service.service_code",
            "service.name_nb",
            "upstream.name_nb",
            "capability.name_nb",
        ),
    ),
    Page(
        "report e-mail HTML",
        lambda c: reverse("reports:preview_html") + f"?user={c.user.pk}&week={this_week()}",
        fields(
            "user.first_name",
            "user.last_name",
            "owner.name_nb",
            "other_owner.name_nb",
            "service.service_code",
            "service.name_nb",
            "upstream.name_nb",
            "capability.name_nb",
        ),
    ),
    Page(
        "admin: owners",
        admin("serviceowner_changelist"),
        fields("owner.name_nb", "owner.name_en", "other_owner.name_nb"),
    ),
    Page(
        "admin: owner",
        admin("serviceowner_change", lambda c: c.owner.pk),
        fields("owner.name_nb", "owner.name_nn", "owner.name_en", "owner.contact_email"),
    ),
    Page(
        "admin: services",
        admin("service_changelist"),
        fields("service.service_code", "service.name_nb", "owner.name_nb", "upstream.name_nb", "other_owner.name_nb"),
    ),
    Page(
        "admin: service",
        admin("service_change", lambda c: c.service.pk),
        fields(
            "service.service_code",
            "service.name_nb",
            "service.name_en",
            "service.edition_name",
            "service.altinn3_reference",
            "service.contact_name",
            "service.contact_email",
            "service.notes",
            "change.comment",
            "upstream.name_nb",
            "capability.name_nb",
        ),
    ),
    Page(
        "admin: change status",
        admin("service_change_status", lambda c: c.service.pk),
        fields("service.service_code", "service.name_nb", "change.comment", "user.username"),
    ),
    Page(
        "admin: dependencies",
        admin("dependency_changelist"),
        fields(
            "service.name_nb", "upstream.name_nb", "capability.name_nb", "service_edge.note", "capability_edge.note"
        ),
    ),
    Page(
        "admin: dependency",
        admin("dependency_change", lambda c: c.service_edge.pk),
        fields("service.name_nb", "upstream.name_nb", "service_edge.note"),
    ),
    Page(
        "admin: capability",
        admin("platformcapability_change", lambda c: c.capability.pk),
        fields("capability.name_nb", "capability.name_en", "capability.description"),
    ),
    Page(
        "admin: status changes",
        admin("statuschange_changelist"),
        fields("change.comment", "user.username", "service.name_nb"),
    ),
    Page(
        "admin: milestone",
        admin("milestone_change", lambda c: c.milestone.pk),
        fields("milestone.name_nb", "milestone.name_en", "milestone.description"),
    ),
    Page("admin: memberships", admin("membership_changelist"), fields("user.username", "owner.name_nb")),
    Page(
        "admin: user",
        lambda c: reverse("admin:auth_user_change", args=[c.user.pk]),
        fields("user.username", "user.first_name", "user.last_name"),
    ),
    Page(
        "browsable API: service",
        lambda c: f"/api/v1/services/{c.service.pk}/",
        fields(
            *SERVICE_NAMES,
            "service.name_nb",
            "service.edition_name",
            "service.altinn3_reference",
            "service.contact_name",
            "service.contact_email",
            "service.notes",
            "owner.name_nb",
        ),
    ),
    Page(
        "browsable API: services",
        lambda c: "/api/v1/services/",
        fields(*SERVICE_NAMES, "service.name_nb", "service.notes", "upstream.name_nb", "owner.name_nb"),
    ),
    Page(
        "browsable API: owners",
        lambda c: "/api/v1/owners/",
        fields("owner.name_nb", "owner.name_nn", "owner.name_en", "owner.contact_email", "other_owner.name_nb"),
    ),
    Page(
        "browsable API: capabilities",
        lambda c: "/api/v1/capabilities/",
        fields("capability.name_nb", "capability.name_en", "capability.description"),
    ),
    Page(
        "browsable API: dependencies",
        lambda c: "/api/v1/dependencies/",
        fields(
            "service_edge.note", "capability_edge.note", "service.name_nb", "upstream.name_nb", "capability.name_nb"
        ),
    ),
    Page(
        "browsable API: milestones",
        lambda c: "/api/v1/milestones/",
        fields("milestone.name_nb", "milestone.name_en", "milestone.description"),
    ),
    Page(
        "browsable API: history",
        lambda c: "/api/v1/history/",
        fields("change.comment", "service.service_code", "user.username"),
    ),
]
JSON_ENDPOINTS: dict[str, Callable[[Catalog], str]] = {
    "services": lambda c: "/api/v1/services/",
    "owners": lambda c: "/api/v1/owners/",
    "capabilities": lambda c: "/api/v1/capabilities/",
    "dependencies": lambda c: "/api/v1/dependencies/",
    "milestones": lambda c: "/api/v1/milestones/",
    "history": lambda c: "/api/v1/history/",
}


def this_week() -> str:
    """The week now under way: the catalog's changes were made today, and the report shows them."""
    return ReportWeek.containing(timezone.localdate()).label


def browser(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en", HTTP_ACCEPT="text/html")
    client.force_login(user)
    return client


@pytest.mark.parametrize("payload_id", list(PAYLOADS))
def test_stored_payloads_are_inert_on_every_page_and_in_json(payload_id):
    catalog = build_catalog(payload_id)
    client = browser(catalog.user)
    problems: list[str] = []
    shown_anywhere: set[str] = set()
    every_page = payload_id in GENERIC_PAGE_PAYLOADS
    for page in PAGES:
        if page.generic and not every_page:
            continue
        headers = {"HTTP_HX_REQUEST": "true"} if page.htmx else {}
        response = client.get(page.url(catalog), **headers)
        assert response.status_code == 200, f"{page.name}: {response.status_code}"
        assert response["Content-Type"].startswith("text/html"), page.name
        result = audit(response.content.decode(), catalog.payloads)
        problems += [f"{page.name}: {problem}" for problem in result.problems]
        missing = (page.shows & catalog.present) - result.shown
        problems += [f"{page.name}: {key} is not shown whole" for key in sorted(missing)]
        shown_anywhere |= result.shown
    if every_page:  # every field that holds the payload is on some page (each page's list says which)
        problems += [f"{key} is on no page" for key in sorted(catalog.present - shown_anywhere)]

    # The API answers JSON (never text/html, which a browser would render) with each payload intact.
    token = Token.objects.create(user=catalog.user).key
    in_json: set[str] = set()
    for name, url in JSON_ENDPOINTS.items():
        response = client.get(url(catalog), HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT="application/json")
        assert response.status_code == 200, name
        assert response["Content-Type"].split(";")[0] == "application/json", name
        for text in json_strings(response.json()):
            for match in MARKER.finditer(text):
                if text[match.end() :].startswith(catalog.payloads[match.group()]):
                    in_json.add(FIELD_OF_MARKER[match.group()])
                else:
                    problems.append(f"API {name}: {FIELD_OF_MARKER[match.group()]} changed: {text[:80]!r}")
    user_fields = {"user.username", "user.first_name", "user.last_name"}
    problems += [f"{key} is in no API answer" for key in sorted(catalog.present - in_json - user_fields)]
    assert not problems, "\n".join(problems)


# --- Reflected input: query strings, paths and form errors -------------------------------------------------


@pytest.mark.parametrize("payload_id", REFLECTED_PAYLOADS)
def test_reflected_payloads_are_inert(payload_id):
    payload = PAYLOADS[payload_id]
    marked = "ZQ99" + payload
    payloads = {"ZQ99": payload}
    user = UserFactory(username="lead", email="lead@example.no", is_staff=True, is_superuser=True)
    user.groups.add(Group.objects.get_or_create(name=PROJECT_LEADS_GROUP)[0])
    owner = ServiceOwner.objects.create(code="skd", name_nb="Skatteetaten")
    Membership.objects.create(user=user, owner=owner, role="editor")
    service = Service.objects.create(
        owner=owner, service_code="3906", edition_code=2, name_nb="Mva", service_type="FormTask"
    )
    client = browser(user)
    q = quote(marked, safe="")
    gets = {
        "service search": (f"/services/?q={q}", True),
        "service search (htmx)": (f"/services/?q={q}&sort={q}&page={q}&per_page={q}", True),
        "service filters": (f"/services/?status={q}&owner={q}&readiness={q}&capability={q}&sort={q}", False),
        "programme sort": (f"/programme/?owners={q}", False),
        "report preview": (f"/reports/preview/?week={q}&user={q}", True),
        "admin search": (f"/admin/migration_app/service/?q={q}", True),
        "admin filter": (f"/admin/migration_app/service/?status__exact={q}&o={q}", False),
        "browsable API search": (f"/api/v1/services/?q={q}&status={q}", True),
        "404 page": (f"/no-such-page/{q}/", False),
        "404 organisation": (f"/organisations/{q}/", False),
        "unsubscribe link": (f"/reports/unsubscribe/{q}/", False),
    }
    problems: list[str] = []
    for name, (url, echoed) in gets.items():
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in name else {}
        response = client.get(url, **headers)
        assert response.status_code < 500, name
        result = audit(response.content.decode(), payloads)
        problems += [f"{name}: {problem}" for problem in result.problems]
        if echoed and "ZQ99" not in result.shown:
            problems.append(f"{name}: the input is not echoed, so the test shows nothing")

    # Form errors that repeat what was typed.
    posts = {
        "dependency add": (reverse("migration_app:dependency_add", args=[service.pk]), {"depends_on": marked}),
        "dependency add (htmx)": (reverse("migration_app:dependency_add", args=[service.pk]), {"depends_on": marked}),
        "status change": (
            reverse("migration_app:service_status", args=[service.pk]),
            {"to_status": marked, "comment": marked, "expected_version": service.version},
        ),
        "service edit": (
            reverse("migration_app:service_edit", args=[service.pk]),
            {"name_nb": marked, "contact_email": marked, "notes": marked, "expected_version": service.version},
        ),
    }
    for name, (url, data) in posts.items():
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in name else {}
        response = client.post(url, data, **headers)
        assert response.status_code in (200, 409, 422), f"{name}: {response.status_code}"
        result = audit(response.content.decode(), payloads)
        problems += [f"{name}: {problem}" for problem in result.problems]
        if "ZQ99" not in result.shown:
            problems.append(f"{name}: the input is not echoed, so the test shows nothing")

    api_404 = client.get(f"/api/v1/{q}/", HTTP_ACCEPT="application/json")
    assert api_404.status_code == 404
    assert api_404["Content-Type"].startswith("application/json")
    # Signed out: the sign-in page keeps ?next= in a hidden field.
    client.logout()
    login = client.get(f"/accounts/login/?next=/services/{q}")
    result = audit(login.content.decode(), payloads)
    problems += [f"login next: {problem}" for problem in result.problems]
    if "ZQ99" not in result.shown:
        problems.append("login next: the input is not echoed, so the test shows nothing")
    assert not problems, "\n".join(problems)


# --- URL and e-mail fields refuse script URLs; organisation codes stay URL-safe ---------------------------


@pytest.mark.parametrize(
    "homepage", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "data:text/html,<script>"]
)
def test_url_fields_refuse_script_urls(homepage, lead):
    lead.is_staff = lead.is_superuser = True
    lead.save()
    client = browser(lead)
    response = client.post(
        "/api/v1/owners/",
        {"code": "nyorg", "name_nb": "Ny", "homepage": homepage},
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert "homepage" in response.json()
    form = client.post(
        reverse("admin:migration_app_serviceowner_add"), {"code": "nyorg", "name_nb": "Ny", "homepage": homepage}
    )
    assert form.status_code == 200  # the form again, with the error
    assert not ServiceOwner.objects.filter(code="nyorg").exists()


def test_email_fields_refuse_markup(owner, editor):
    service = Service.objects.create(
        owner=owner, service_code="1", edition_code=1, name_nb="S", service_type="FormTask"
    )
    client = browser(editor)
    response = client.post(
        reverse("migration_app:service_edit", args=[service.pk]),
        {
            "name_nb": "S",
            "service_type": "FormTask",
            "yearly_volume": 0,
            "criticality": "medium",
            "contact_email": '"><script>alert(1)</script>@example.no',
            "expected_version": service.version,
        },
    )
    assert response.status_code == 422
    service.refresh_from_db()
    assert service.contact_email == ""


@pytest.mark.parametrize("code", ["<b>x</b>", "a b", "skd/1", "a.b", "-skd", "bø"])
def test_organisation_codes_are_url_safe(code, lead):
    """The code is a path segment (/organisations/skd/): anything else would break every page linking it."""
    response = browser(lead).post(
        "/api/v1/owners/",
        {"code": code, "name_nb": "Ny"},
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert "code" in response.json()
    assert not ServiceOwner.objects.filter(name_nb="Ny").exists()
