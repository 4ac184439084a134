"""Validators for Norwegian and Altinn identifiers."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .engine.portfolio import names_one_target

MOD11_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
# Altinn 3 org codes are short lower-case ASCII words ("skd", "brg", "digdir"). The code is also a URL path
# segment (/organisations/<code>/): anything else would make every page that links the organisation fail.
ORG_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")


def validate_dependency_target(on_service: object | None, on_capability: object | None) -> None:
    """Refuse a dependency that names no target or both a service and a capability."""
    if not names_one_target(on_service, on_capability):
        raise ValidationError(_("A dependency names exactly one service or one capability."), code="dependency_target")


def orgnr_is_valid(orgnr: str) -> bool:
    """True for a 9-digit Norwegian organisation number whose last digit is its MOD11 check digit."""
    if len(orgnr) != 9 or not orgnr.isascii() or not orgnr.isdigit():
        return False
    remainder = sum(int(d) * w for d, w in zip(orgnr[:8], MOD11_WEIGHTS, strict=True)) % 11
    check = 0 if remainder == 0 else 11 - remainder
    # A remainder of 1 gives check digit 10, which no valid number can have.
    return check != 10 and check == int(orgnr[8])


def validate_orgnr(value: str) -> None:
    if value and not orgnr_is_valid(value):
        raise ValidationError(
            _("%(value)s is not a valid organisation number (9 digits with a MOD11 check digit)."),
            code="invalid_orgnr",
            params={"value": value},
        )


def validate_lowercase_code(value: str) -> None:
    if value != value.lower():
        raise ValidationError(_("Organisation codes are lower-case, as in Altinn 3."), code="not_lowercase")
    if not ORG_CODE_RE.match(value):
        raise ValidationError(
            _("Organisation codes are letters a–z, digits, hyphens and underscores, as in Altinn 3."),
            code="invalid_org_code",
        )
