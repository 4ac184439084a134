"""What a browser does on the tracker's pages, for the scenarios that drive the stack over HTTP.

Signing in goes through the real login form with its CSRF token, and a form is submitted with exactly
the fields a browser would send (hidden inputs, the selected option, textareas), so the scenarios meet
the same CSRF, version and validation checks as a person. Standard library plus ``requests`` only: the
locust file (a separate process) uses the same code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

LOGIN_PATH = "/accounts/login/"
LOGOUT_PATH = "/accounts/logout/"
# Django's hidden CSRF input; every signed-in page has one in the header's language and logout forms.
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class SignInError(AssertionError):
    """The login form did not let the user in (wrong password, lockout, or an error page)."""


@dataclass
class HtmlForm:
    """One ``<form>``: where it posts, and the fields a browser would submit with it unchanged."""

    action: str
    method: str
    css_class: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    # Every option of each <select>, for choosing another one than the selected.
    options: dict[str, list[str]] = field(default_factory=dict)

    def data(self, **changes: str) -> dict[str, str]:
        """The submission as a dict (the tracker's forms have no repeated names), with ``changes`` applied."""
        return {**dict(self.fields), **changes}


class _FormParser(HTMLParser):
    """Collects the forms of a page. Only what the tracker's forms use: input, select, textarea."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[HtmlForm] = []
        self._form: HtmlForm | None = None
        self._select: str | None = None
        self._selected: str | None = None
        self._option: dict[str, str] | None = None
        self._option_text: list[str] = []
        self._textarea: str | None = None
        self._textarea_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = HtmlForm(
                action=attr.get("action", ""), method=attr.get("method", "get").lower(), css_class=attr.get("class", "")
            )
            self.forms.append(self._form)
        if self._form is None or "disabled" in attr:
            return
        name = attr.get("name", "")
        if tag == "input" and name:
            kind = attr.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in attr:
                    self._form.fields.append((name, attr.get("value", "on")))
            elif kind not in ("submit", "button", "reset", "image", "file"):
                self._form.fields.append((name, attr.get("value", "")))
        elif tag == "select" and name:
            self._select, self._selected = name, None
            self._form.options[name] = []
        elif tag == "option" and self._select is not None:
            self._option, self._option_text = attr, []
        elif tag == "textarea" and name:
            self._textarea, self._textarea_text = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea_text.append(data)
        elif self._option is not None:
            self._option_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._form is None:
            return
        if tag == "option" and self._option is not None and self._select is not None:
            # An option without a value attribute submits its text.
            value = self._option.get("value", "".join(self._option_text).strip())
            self._form.options[self._select].append(value)
            if "selected" in self._option:
                self._selected = value
            self._option = None
        elif tag == "select" and self._select is not None:
            # A single select submits its selected option, or its first one when none is marked selected.
            options = self._form.options[self._select]
            fallback = options[0] if options else ""
            self._form.fields.append((self._select, self._selected if self._selected is not None else fallback))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # Browsers drop the newline right after <textarea>; the HTML parser keeps it.
            self._form.fields.append((self._textarea, "".join(self._textarea_text).removeprefix("\n")))
            self._textarea = None
        elif tag == "form":
            self._form = None


def page_forms(html: str) -> list[HtmlForm]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def page_form(html: str, *, action_contains: str = "", css_class: str = "") -> HtmlForm:
    """The first form on the page whose action contains ``action_contains`` and whose class has ``css_class``."""
    for form in page_forms(html):
        if action_contains in form.action and (not css_class or css_class in form.css_class.split()):
            return form
    raise LookupError(f"no form with action containing {action_contains!r} and class {css_class!r}")


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    if match is None:
        raise LookupError("the page has no CSRF token")
    return match.group(1)


def sign_in(session: requests.Session, base_url: str, username: str, password: str, **kwargs) -> requests.Response:
    """Sign in through the login form; return the page the login redirects to (redirects followed).

    ``kwargs`` go to both requests (locust's session takes ``name=`` to group them in its statistics).
    Raises SignInError when the answer is not a signed-in page.
    """
    login_url = urljoin(base_url, LOGIN_PATH)
    form_page = session.get(login_url, **kwargs)
    if form_page.status_code != 200:
        raise SignInError(f"GET {LOGIN_PATH} answered {form_page.status_code}")
    data = page_form(form_page.text, action_contains=LOGIN_PATH).data(username=username, password=password)
    landed = session.post(login_url, data=data, headers={"Referer": login_url}, **kwargs)
    if landed.status_code != 200 or is_login_page(landed):
        raise SignInError(f"{username} was not signed in: {landed.status_code} at {landed.url}")
    return landed


def sign_out(session: requests.Session, base_url: str, page_html: str, **kwargs) -> requests.Response:
    """Press "Log out" on a signed-in page (a POST with that page's CSRF token); redirects not followed."""
    return session.post(
        urljoin(base_url, LOGOUT_PATH),
        data={"csrfmiddlewaretoken": csrf_token(page_html)},
        headers={"Referer": urljoin(base_url, "/")},
        allow_redirects=False,
        **kwargs,
    )


def is_login_page(response: requests.Response) -> bool:
    return urlsplit(response.url).path == LOGIN_PATH


def is_login_redirect(response: requests.Response) -> bool:
    """A 302 to the login form, as Django's login_required answers a signed-out visitor."""
    location = response.headers.get("Location", "")
    return response.status_code == 302 and urlsplit(location).path == LOGIN_PATH
