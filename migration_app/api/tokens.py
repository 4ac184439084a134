"""The signed-in user's own API token: see whether one exists, create (or replace) it, revoke it.

Leads manage anyone's tokens in the Django admin (DRF's token admin); this endpoint is for scripts'
owners, in the browser (session) or with the token itself.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.response import Response

from ..services.accounts import api_token_revoke, api_token_rotate
from .serializers import UTCDateTimeField, utc_iso


class TokenStatusSerializer(serializers.Serializer):
    has_token = serializers.BooleanField()
    created = UTCDateTimeField(allow_null=True)


class TokenCreatedSerializer(serializers.Serializer):
    token = serializers.CharField(help_text=_("Shown once: send it as 'Authorization: Token <token>'."))
    created = UTCDateTimeField()


class TokenView(generics.GenericAPIView):
    """``GET`` whether you have a token, ``POST`` a new one (the old one stops working; the key is shown
    only in this answer), ``DELETE`` to revoke it."""

    serializer_class = TokenStatusSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(summary="Your API token: does it exist")
    def get(self, request: Request) -> Response:
        token = Token.objects.filter(user=request.user).first()
        return Response({"has_token": token is not None, "created": utc_iso(token.created) if token else None})

    @extend_schema(summary="Create or replace your API token", request=None, responses={201: TokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        token = api_token_rotate(user=request.user)
        return Response({"token": token.key, "created": utc_iso(token.created)}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke your API token", request=None, responses={204: OpenApiResponse(description="Revoked.")}
    )
    def delete(self, request: Request) -> Response:
        api_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
