"""Optimistic concurrency over HTTP: every versioned representation carries an ETag, and writes name
the version they change in ``If-Match`` (or ``version`` in the body).

The check here is only the early, friendly answer. The guarantee is the compare-and-set in
``services`` (``UPDATE ... WHERE version = n`` or a locked read): two clients that both pass this
check with the same version still cannot both win, the second gets StaleVersionError and so a 412.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.request import Request

from .errors import PreconditionFailed, PreconditionRequired

# An entity tag from If-Match: W/"7", "7" or, typed by hand, a bare 7.
ENTITY_TAG = re.compile(r'^\s*(?:W/)?"?(\d{1,10})"?\s*$')


def etag(version: int) -> str:
    """The ETag of a versioned representation: the version, quoted (RFC 9110 strong entity tag)."""
    return f'"{version}"'


def _body_version(data: Any) -> int | None:
    if not isinstance(data, dict):
        return None
    value = data.get("version")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def expected_version(request: Request, current: int) -> int:
    """The version this write was made against, from If-Match or else the body's ``version``.

    Raises PreconditionRequired (428) when neither is given, PreconditionFailed (412) when it is not
    ``current``. ``If-Match: *`` ("whatever is there") is refused: it is exactly the silent overwrite
    this guard exists to prevent.
    """
    header = request.headers.get("If-Match")
    if header is None or not header.strip():
        version = _body_version(request.data)
        if version is None:
            raise PreconditionRequired()
        if version != current:
            raise PreconditionFailed()
        return version
    if header.strip() == "*":
        raise PreconditionRequired(
            _("If-Match: * is not accepted here; send the ETag of the version you are changing.")
        )
    versions = {int(m[1]) for tag in header.split(",") if (m := ENTITY_TAG.match(tag))}
    if current not in versions:
        raise PreconditionFailed()
    return current
