"""Names in the active language: the one place the rule is spelled.

Owners, services, capabilities and milestones keep a bokmål name (``name_nb``) and, optionally, an
English one (``name_en``). English readers get the English name where there is one and bokmål where
there is none; every other language reads bokmål. The pages' ``display_name`` filter, the weekly
e-mail's ``local_name`` filter and the catalog's sort by name all go through these functions.
"""

from __future__ import annotations

from typing import Protocol

from django.db.models import F, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce, NullIf
from django.utils.translation import get_language


class Named(Protocol):
    """A model instance or a report's reference: anything with both names."""

    @property
    def name_nb(self) -> str: ...

    @property
    def name_en(self) -> str: ...


def wants_english() -> bool:
    """Whether the active language reads the English names (``en``, ``en-gb``, ...)."""
    return (get_language() or "").lower().startswith("en")


def localized_name(obj: Named) -> str:
    """The name in the active language, bokmål when there is no English name."""
    if wants_english() and obj.name_en:
        return obj.name_en
    return obj.name_nb


def localized_name_expression(prefix: str = "") -> Combinable:
    """``localized_name`` as an SQL expression, for sorting in the database.

    ``prefix`` reaches a related row, e.g. ``"owner__"`` for the owner's name.
    """
    if wants_english():
        return Coalesce(NullIf(F(f"{prefix}name_en"), Value("")), F(f"{prefix}name_nb"))
    return F(f"{prefix}name_nb")
