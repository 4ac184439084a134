"""OpenAPI details shared by every operation: the error responses each can give, documented once.

drf-spectacular derives the success bodies, parameters and filters from the views and serializers;
``TrackerAutoSchema`` adds 400/401/403/404/412/428/429 where an operation can answer with them, so the
schema (and Schemathesis, which holds the API to it) knows every status code the API uses.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import Direction, OpenApiParameter, OpenApiResponse
from rest_framework.permissions import SAFE_METHODS

from .serializers import ErrorSerializer

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        'The ETag you read, e.g. "7". Required unless the body carries "version"; a stale one gets 412 '
        "with the current representation."
    ),
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=True,
    description="The representation's version as an entity tag; send it back in If-Match to change it.",
)

# A 400 body: field name → messages ("non_field_errors" for the request as a whole, "detail" for a
# body that could not be parsed).
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Field name → list of messages; non_field_errors for the request as a whole.",
    "additionalProperties": {},
}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds to wait before the next request.",
    }
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: a field, filter or query parameter (messages per field).",
    "401": "Not signed in: send 'Authorization: Token <key>' or use a session.",
    "403": "Signed in, but not allowed: viewers read only; editors write their own organisation's data.",
    "404": "No such object (or page).",
    "412": "Stale: someone changed it since you read it. The body holds the current representation.",
    "428": "If-Match (or version in the body) is required for this change.",
    "429": "Too many requests; Retry-After says when to try again.",
}


class TrackerAutoSchema(AutoSchema):
    """AutoSchema plus the error responses: views mark conditional writes with ``conditional_actions``
    (action names) and name the 412 body with ``stale_serializer_class``."""

    def _error(self, code: str, body: Any) -> dict[str, Any]:
        response: dict[str, Any] = self._get_response_for_code(
            OpenApiResponse(body, description=ERROR_DESCRIPTIONS[code]), code
        )
        return response

    def _is_conditional(self) -> bool:
        action = getattr(self.view, "action", None)
        return action in getattr(self.view, "conditional_actions", ())

    def _get_response_bodies(self, direction: Direction = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        unsafe = self.method not in SAFE_METHODS
        errors: dict[str, Any] = {}
        if unsafe or self._is_list_view() or getattr(self.view, "has_query_parameters", False):
            errors["400"] = VALIDATION_ERROR_SCHEMA
        errors["401"] = ErrorSerializer
        if unsafe:
            errors["403"] = ErrorSerializer
        if "{" in self.path or self._is_list_view():
            errors["404"] = ErrorSerializer
        if self._is_conditional():
            errors["412"] = getattr(self.view, "stale_serializer_class", ErrorSerializer)
            errors["428"] = ErrorSerializer
        errors["429"] = ErrorSerializer
        for code, body in errors.items():
            if code not in responses:
                responses[code] = self._error(code, body)
        responses["429"].setdefault("headers", {}).update(RETRY_AFTER)
        return responses
