"""From an identity provider's claims to the tracker's terms: who signs in, in which organisations, with
which role. Pure functions over plain data, no ORM and no settings reads inside, so each rule is tested
directly (tests/test_sso.py) and the backend stays thin.

The rules (docs/sso.md has examples):

- The account is found by a keyed hash of one stable claim (``OIDC_USERNAME_CLAIM``: ``sub`` by default,
  ``pid`` for ID-porten's national identity number), never by e-mail: an e-mail address can be reused or
  claimed by someone else, and linking on it would hand over the existing account.
- Organisations come from ``OIDC_ORG_CLAIM``: organisation numbers (9 digits, optionally with the
  ISO 6523 prefix ``0192:`` used by Maskinporten and Ansattporten) or tracker org codes such as ``skd``.
- The role claim (``OIDC_ROLE_CLAIM``) makes the person an editor in those organisations if it holds one
  of ``OIDC_EDITOR_GROUPS`` (viewer otherwise), and a project lead if it holds one of ``OIDC_LEAD_GROUPS``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..choices import MembershipRole

# Django's auth.User field lengths; longer claim values are cut rather than refused.
NAME_MAX_LENGTH = 150
EMAIL_MAX_LENGTH = 254

USERNAME_PREFIX = "sso-"
ORGNR_RE = re.compile(r"^(?:0192:)?(\d{9})$")
# A claim given as one string ("skd nav", "skd,nav") instead of a JSON array.
VALUE_SEPARATORS_RE = re.compile(r"[\s,]+")


class SsoClaimsError(ValueError):
    """The provider's claims lack what the tracker needs to know who signed in."""


@dataclass(frozen=True)
class SsoMappingRules:
    """The configured mapping (OIDC_* settings), as plain data so the rules can be tested without settings."""

    username_claim: str
    username_hash_key: bytes
    org_claim: str = ""
    role_claim: str = ""
    editor_groups: frozenset[str] = frozenset()
    lead_groups: frozenset[str] = frozenset()

    @property
    def manages_leads(self) -> bool:
        """Lead status follows the provider only when lead groups are configured; otherwise admins decide."""
        return bool(self.lead_groups)


@dataclass(frozen=True)
class SsoProfile:
    """What one sign-in says about a person, in the tracker's terms."""

    username: str
    first_name: str
    last_name: str
    email: str
    orgnrs: frozenset[str]
    org_codes: frozenset[str]
    role: MembershipRole
    # None when lead groups are not configured: single sign-on then leaves lead status alone.
    is_lead: bool | None


def sso_username(value: str, *, claim: str, key: bytes) -> str:
    """The account name for an identity: an HMAC of the claim, not the claim itself.

    A national identity number has so few possible values that a plain hash is reversed by trying
    them all; keyed with OIDC_USERNAME_HASH_KEY (kept outside the database), a copy of the database
    alone does not reveal who the users are. The claim's name is part of the input, so switching
    OIDC_USERNAME_CLAIM can never make one person's value match another's account.
    """
    digest = hmac.new(key, f"{claim}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return USERNAME_PREFIX + digest[:32]


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """A claim's values as strings, whether the provider sent a JSON array or one separated string."""
    if not name:
        return []
    raw = claims.get(name)
    if isinstance(raw, str):
        return [item for item in VALUE_SEPARATORS_RE.split(raw) if item]
    if isinstance(raw, list | tuple):
        # Organisation numbers sometimes arrive as JSON numbers; nested objects are not ours to read.
        return [str(item).strip() for item in raw if isinstance(item, str | int) and str(item).strip()]
    return []


def organisation_keys(values: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(organisation numbers, org codes) named by claim values; codes are lower case like ServiceOwner.code."""
    orgnrs: set[str] = set()
    codes: set[str] = set()
    for value in values:
        match = ORGNR_RE.match(value)
        if match:
            orgnrs.add(match.group(1))
        else:
            codes.add(value.lower())
    return frozenset(orgnrs), frozenset(codes)


def _names(claims: Mapping[str, Any]) -> tuple[str, str]:
    first = str(claims.get("given_name") or "").strip()
    last = str(claims.get("family_name") or "").strip()
    if not (first or last):
        # Some providers send only the full name: the last word is the family name, the rest the given names.
        first, _space, last = str(claims.get("name") or "").strip().rpartition(" ")
        if not first:
            first, last = last, ""
    return first[:NAME_MAX_LENGTH], last[:NAME_MAX_LENGTH]


def _email(claims: Mapping[str, Any]) -> str:
    email = str(claims.get("email") or "").strip()
    # Weekly reports go to this address: keep it only when the provider has not said it is unverified.
    if "@" not in email or claims.get("email_verified") is False or len(email) > EMAIL_MAX_LENGTH:
        return ""
    return email


def sso_profile_from_claims(claims: Mapping[str, Any], rules: SsoMappingRules) -> SsoProfile:
    """Apply the mapping rules to one sign-in's verified claims."""
    identity = claims.get(rules.username_claim)
    if identity is None or not str(identity).strip():
        raise SsoClaimsError(f"the sign-in has no {rules.username_claim!r} claim to identify the user by")
    groups = set(claim_values(claims, rules.role_claim))
    # When organisations and roles share one claim (Entra ID app roles), the role names are not organisations.
    role_names = rules.editor_groups | rules.lead_groups
    orgnrs, codes = organisation_keys([v for v in claim_values(claims, rules.org_claim) if v not in role_names])
    first_name, last_name = _names(claims)
    return SsoProfile(
        username=sso_username(str(identity).strip(), claim=rules.username_claim, key=rules.username_hash_key),
        first_name=first_name,
        last_name=last_name,
        email=_email(claims),
        orgnrs=orgnrs,
        org_codes=codes,
        role=MembershipRole.EDITOR if groups & rules.editor_groups else MembershipRole.VIEWER,
        is_lead=bool(groups & rules.lead_groups) if rules.manages_leads else None,
    )
