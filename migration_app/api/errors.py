"""Error responses: one shape for every refusal, and the domain's exceptions mapped to HTTP.

* ``{"detail": "..."}`` for 401, 403, 404, 405, 412 (plus the current representation), 428, 429;
* ``{"field": ["message", ...], "non_field_errors": [...]}`` for 400 validation errors, whether they come
  from a serializer, a FilterSet or a service's Django ``ValidationError`` (e.g. an illegal transition).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from ..services.checks import StaleVersionError


class PreconditionRequired(exceptions.APIException):
    """428: a write without If-Match (or ``version`` in the body) could overwrite a change unseen."""

    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = _(
        "This change needs the version you are changing: send the ETag you read in an If-Match header "
        "(or the version in the body)."
    )
    default_code = "precondition_required"


class PreconditionFailed(exceptions.APIException):
    """412 without a body beyond ``detail``; views that can show the current representation do so."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _("Someone else changed this since you read it; read it again and re-apply your change.")
    default_code = "precondition_failed"


def validation_error_detail(exc: DjangoValidationError) -> dict[str, Any]:
    """A Django ValidationError as DRF's 400 body; Django's ``__all__`` key reads ``non_field_errors``."""
    detail: dict[str, Any] = as_serializer_error(exc)
    if NON_FIELD_ERRORS in detail:
        detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
    return detail


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the domain's exceptions: services raise Django ValidationError (400) and
    StaleVersionError (412) whichever caller they serve, so the API translates them here, once; an
    object that vanished mid-request is a 404."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=validation_error_detail(exc))
    elif isinstance(exc, StaleVersionError):
        exc = PreconditionFailed(detail=str(exc))
    elif isinstance(exc, ObjectDoesNotExist):
        # Removed by someone else between the view's read and the service's locked read.
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)
