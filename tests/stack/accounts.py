"""The people the load and identity scenarios sign in as, created in the stack's own database.

The stack is a black box reached over HTTP, so its users are made the way an operator would make them:
``manage.py shell`` with the stack's environment. Every account shares the demo users' password and
reuses their stored hash: hashing is deliberately slow (~0.8 s here), and sixty of them would cost a
minute before the scenario even starts. Signing in still verifies the password the slow way.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.stack import Stack

# The demo users' password (migration_app/demo/vocabulary.py), published on purpose. Not imported from
# there: this module also runs outside Django (the benchmarks), and the demo package needs its models.
DEMO_PASSWORD = "demo-passord-2026"

# Runs inside `manage.py shell -c`: `params` is set before it, and `result` is written out after it.
_LOAD_ACCOUNTS = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count
from rest_framework.authtoken.models import Token

from migration_app.choices import PROJECT_LEADS_GROUP, MembershipRole
from migration_app.models import Membership, Service, ServiceOwner

User = get_user_model()
demo_hash = User.objects.get(username="eier").password
taken = set(Membership.objects.filter(user__username="eier").values_list("owner__code", flat=True))
# Owners with the most services first: an owner with an empty catalog page browses nothing.
others = (
    ServiceOwner.objects.exclude(code__in=taken)
    .annotate(service_count=Count("services"))
    .filter(service_count__gt=0)
    .order_by("-service_count", "code")[: params["owners"] - 1]
)
owners = [("eier", code) for code in sorted(taken)][:1]
for owner in others:
    username = f"last-eier-{owner.code}"
    user, _ = User.objects.update_or_create(
        username=username,
        defaults={"first_name": "Last", "last_name": owner.code.upper(), "password": demo_hash, "is_active": True},
    )
    Membership.objects.update_or_create(user=user, owner=owner, defaults={"role": MembershipRole.EDITOR})
    owners.append((username, owner.code))

leads_group = Group.objects.get(name=PROJECT_LEADS_GROUP)
leads = ["leder"]
for number in range(2, params["leads"] + 1):
    user, _ = User.objects.update_or_create(
        username=f"last-leder-{number}",
        defaults={"first_name": "Last", "last_name": f"Leder {number}", "password": demo_hash, "is_active": True},
    )
    user.groups.add(leads_group)
    leads.append(user.username)

services_by_owner = {}
for pk, code in Service.objects.values_list("pk", "owner__code").order_by("pk"):
    services_by_owner.setdefault(code, []).append(pk)
names = Service.objects.values_list("name_nb", flat=True)
words = sorted({word for name in names for word in name.split() if len(word) > 5})
result = {
    "owners": [
        {"username": username, "owner_code": code, "service_ids": services_by_owner.get(code, [])}
        for username, code in owners
    ],
    "leads": [
        {"username": username, "token": Token.objects.get_or_create(user=User.objects.get(username=username))[0].key}
        for username in leads
    ],
    "owner_codes": sorted(services_by_owner),
    "service_ids": [pk for pks in services_by_owner.values() for pk in pks],
    "search_words": words[:: max(1, len(words) // 40)],
}
"""

_CANARY_USERS = """
import datetime

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from migration_app.services.catalog import service_create
from migration_app.choices import MembershipRole, ServiceType
from migration_app.models import Membership, ServiceOwner

User = get_user_model()
demo_hash = User.objects.get(username="eier").password
owners = list(ServiceOwner.objects.order_by("code")[: len(params["users"])])
if len(owners) < len(params["users"]):
    raise SystemExit(f"only {len(owners)} organisations for {len(params['users'])} canary users")
result = []
for spec, owner in zip(params["users"], owners):
    user = User.objects.create(
        username=spec["username"],
        first_name=spec["first_name"],
        last_name=spec["last_name"],
        email=spec["username"] + "@kanari.example",
        password=demo_hash,
    )
    Membership.objects.create(user=user, owner=owner, role=MembershipRole.EDITOR)
    service = service_create(
        data={
            "owner": owner,
            "service_code": spec["service_code"],
            "edition_code": 1,
            "name_nb": spec["service_name"],
            "service_type": ServiceType.values[0],
        }
    )
    # The token's creation time is what GET /api/v1/tokens/ shows its owner: a per-user value in the API.
    token = Token.objects.create(user=user)
    created = datetime.datetime.fromisoformat(spec["token_created"])
    Token.objects.filter(pk=token.pk).update(created=created)
    result.append(
        {
            **spec,
            "owner_code": owner.code,
            "owner_name": owner.name_nb,
            "service_id": service.pk,
            "token": token.key,
        }
    )
"""


def stack_shell(stack: Stack, code: str, params: dict[str, Any]) -> Any:
    """Run ``code`` in the stack's Django (``manage.py shell -c``) with ``params``; return its ``result``."""
    with tempfile.TemporaryDirectory(prefix="tracker-stack-shell-") as scratch:
        out = Path(scratch) / "result.json"
        script = (
            f"import json\nparams = json.loads({json.dumps(json.dumps(params))})\n"
            f"{code}\n"
            f"open({str(out)!r}, 'w').write(json.dumps(result))\n"
        )
        stack.manage("shell", "-c", script)
        return json.loads(out.read_text())


@dataclass
class LoadAccounts:
    """Who the load test signs in as: owners (editors of one organisation each, with their services'
    ids and, once signed in, their session cookies) and leads with API tokens."""

    owners: list[dict[str, Any]]
    leads: list[dict[str, Any]]
    owner_codes: list[str]
    service_ids: list[int]
    search_words: list[str]
    password: str = DEMO_PASSWORD

    def as_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)


def load_accounts_create(stack: Stack, *, owners: int = 11, leads: int = 2) -> LoadAccounts:
    """The demo owner ``eier`` plus ``owners - 1`` editors in the organisations with the most services,
    and the demo lead ``leder`` plus ``leads - 1`` more, each lead with an API token. Idempotent."""
    return LoadAccounts(**stack_shell(stack, _LOAD_ACCOUNTS, {"owners": owners, "leads": leads}))


def canary_users_create(stack: Stack, specs: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One user per spec, each an editor of a different organisation (by code order), with a service
    of their own named by the spec and an API token created at the spec's ``token_created``.

    Returns the specs with ``owner_code``, ``owner_name``, ``service_id`` and ``token`` added.
    """
    return stack_shell(stack, _CANARY_USERS, {"users": specs})
