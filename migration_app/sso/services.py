"""The write behind a single sign-on: find or create the account and bring its memberships in line with
what the provider says, in one transaction.

Memberships carry a ``source``. Those marked ``sso`` belong to single sign-on: every sign-in adds the
missing ones, corrects their role and removes those the provider no longer lists. Those an administrator
granted (``manual``) are never touched, not even when the provider lists the same organisation with
another role: an administrator's explicit decision outranks a directory attribute. Lead status has no
such marker (it is a Django group), so it follows a simpler rule: when ``OIDC_LEAD_GROUPS`` is set the
provider decides it at every sign-in, both ways; when it is not set single sign-on never changes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractUser, Group, User
from django.db import transaction
from django.db.models import Q

from ..choices import PROJECT_LEADS_GROUP, MembershipSource
from ..models import Membership, ServiceOwner
from ..selectors.access import user_is_lead
from .claims import SsoProfile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SsoSignIn:
    """The outcome of one sign-in's synchronisation."""

    # None only when the sign-in was refused before an account existed (none is created for a refusal).
    user: AbstractUser | None
    # OIDC_REQUIRE_MEMBERSHIP is on and the person is neither a member of any organisation nor a lead.
    refused: bool
    added: int = 0
    changed: int = 0
    removed: int = 0


def _owners_named(profile: SsoProfile) -> list[ServiceOwner]:
    """The organisations the claim names; the ones the tracker does not know are logged and ignored."""
    if not (profile.orgnrs or profile.org_codes):
        return []
    owners = list(ServiceOwner.objects.filter(Q(orgnr__in=profile.orgnrs) | Q(code__in=profile.org_codes)))
    unknown = (profile.orgnrs - {o.orgnr for o in owners}) | (profile.org_codes - {o.code for o in owners})
    if unknown:
        logger.warning(
            "SSO sign-in of %s names organisations the tracker does not know, ignored: %s",
            profile.username,
            ", ".join(sorted(unknown)),
        )
    return owners


def _sync_memberships(user: User, profile: SsoProfile, owners: list[ServiceOwner]) -> tuple[int, int, int]:
    """(added, changed, removed) single-sign-on memberships; manual ones are left exactly as they are."""
    existing = {m.owner_id: m for m in Membership.objects.filter(user=user)}
    wanted = {owner.pk for owner in owners}
    added = changed = 0
    for owner_id in sorted(wanted):
        membership = existing.get(owner_id)
        if membership is None:
            Membership.objects.create(user=user, owner_id=owner_id, role=profile.role, source=MembershipSource.SSO)
            added += 1
        elif membership.source == MembershipSource.SSO and membership.role != profile.role:
            membership.role = profile.role
            membership.save(update_fields=["role"])
            changed += 1
    stale = [m.pk for m in existing.values() if m.source == MembershipSource.SSO and m.owner_id not in wanted]
    if stale:
        Membership.objects.filter(pk__in=stale).delete()
    return added, changed, len(stale)


def _sync_lead(user: AbstractUser, is_lead: bool | None) -> None:
    if is_lead is None:
        return
    leads, _created = Group.objects.get_or_create(name=PROJECT_LEADS_GROUP)
    if is_lead:
        user.groups.add(leads)
    else:
        user.groups.remove(leads)


def _update_details(user: AbstractUser, profile: SsoProfile) -> None:
    """Names and e-mail from the provider, but only those it sent: ID-porten sends no names, and an
    administrator's typed-in name must not be blanked by a sign-in."""
    changed = [
        field
        for field in ("first_name", "last_name", "email")
        if getattr(profile, field) and getattr(profile, field) != getattr(user, field)
    ]
    for field in changed:
        setattr(user, field, getattr(profile, field))
    if changed:
        user.save(update_fields=changed)


@transaction.atomic
def sso_user_sign_in(*, profile: SsoProfile, require_membership: bool) -> SsoSignIn:
    """Find or create the account for a verified sign-in and synchronise its memberships and lead status.

    With ``require_membership`` a person who ends up with no membership and no lead status is refused;
    the synchronisation is kept even then, so a membership the provider withdrew is gone at once.
    No account is created for a refused first sign-in.
    """
    User = get_user_model()
    owners = _owners_named(profile)
    user = User.objects.select_for_update().filter(username=profile.username).first()
    if user is None:
        if require_membership and not owners and not profile.is_lead:
            return SsoSignIn(user=None, refused=True)
        # Two first sign-ins at once: get_or_create turns the loser's unique violation into a read.
        user, _created = User.objects.get_or_create(
            username=profile.username,
            defaults={
                "first_name": profile.first_name,
                "last_name": profile.last_name,
                "email": profile.email,
                # No password: the account signs in through the provider only, and password reset skips it.
                "password": make_password(None),
            },
        )
        user = User.objects.select_for_update().get(pk=user.pk)
    else:
        _update_details(user, profile)
    added, changed, removed = _sync_memberships(user, profile, owners)
    _sync_lead(user, profile.is_lead)
    refused = require_membership and not user_is_lead(user) and not Membership.objects.filter(user=user).exists()
    logger.info(
        "SSO sign-in of %s: %d memberships added, %d changed, %d removed%s",
        profile.username,
        added,
        changed,
        removed,
        "; refused, no membership" if refused else "",
    )
    return SsoSignIn(user=user, refused=refused, added=added, changed=changed, removed=removed)
