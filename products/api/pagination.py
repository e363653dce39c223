"""Limit/offset pages for list endpoints that are plain APIViews (Styleguide's get_paginated_response)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response


class Page(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100


PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="Items per page (at most 100, default 20)."),
    OpenApiParameter("offset", int, description="How many items to skip."),
]


def page_of(serializer_class: type[serializers.Serializer], name: str) -> serializers.Serializer:
    """The schema of a page of ``serializer_class`` items."""
    return type(name, (serializers.Serializer,), {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": serializer_class(many=True),
    })


def paginated_response(*, serializer_class, queryset, request, view) -> Response:
    paginator = Page()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
