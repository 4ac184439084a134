"""Page-number pagination on every list, with a page size up to 1,000 so a lead can take the whole
catalog in one request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.paginator import InvalidPage
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

MAX_PAGE_SIZE = 1000


class PagePagination(PageNumberPagination):
    """``?page=N&page_size=M`` (default 100, at most 1,000; a larger size is capped, not refused)."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_rows(self, queryset: QuerySet, request: Request, fetch: Callable[[QuerySet], list[Any]]) -> list[Any]:
        """``paginate_queryset``, but the page's rows are read by ``fetch`` (e.g. selectors.raw_rows)
        rather than by evaluating the sliced queryset."""
        paginator = self.django_paginator_class(queryset, self.get_page_size(request))
        page_number = self.get_page_number(request, paginator)
        try:
            self.page = paginator.page(page_number)
        except InvalidPage as exc:
            raise NotFound(self.invalid_page_message.format(page_number=page_number, message=str(exc))) from None
        self.request = request
        return fetch(self.page.object_list)


class ResultPagination(PagePagination):
    """Pages of a stored engine result (the leverage list), with the result's freshness beside ``count``.

    The view sets ``meta`` (``computed_at``, ``revision``, ``fresh``) before paginating.
    """

    meta: dict[str, Any]

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data = {**self.meta, **response.data}
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated: dict[str, Any] = super().get_paginated_response_schema(schema)
        paginated["required"] = ["count", "results", "computed_at", "revision", "fresh"]
        paginated["properties"] = {
            "computed_at": {"type": "string", "format": "date-time", "nullable": True},
            "revision": {"type": "integer", "nullable": True},
            "fresh": {"type": "boolean"},
            **paginated["properties"],
        }
        return paginated
