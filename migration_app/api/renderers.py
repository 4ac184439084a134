"""JSON rendering with orjson: the list of 1,000 services spends most of its time here otherwise."""

from __future__ import annotations

import decimal
from typing import Any

import orjson
from django.utils.functional import Promise
from rest_framework.renderers import BaseRenderer


def _default(value: Any) -> Any:
    """What orjson does not know natively: lazy translations (error messages) and decimals."""
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays from the engine
        return value.tolist()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


class ORJSONRenderer(BaseRenderer):
    """``application/json`` through orjson: UTF-8, no spaces, dates and datetimes as ISO 8601."""

    media_type = "application/json"
    format = "json"
    charset = None  # JSON is UTF-8 by definition (RFC 8259); no charset parameter
    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        options = self.options
        # The browsable API asks for indentation when it embeds the JSON in its page.
        if renderer_context and renderer_context.get("indent"):
            options |= orjson.OPT_INDENT_2
        return orjson.dumps(data, default=_default, option=options)
