"""Products and their versions, read-only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from products.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from products.api.serializers import ProductSerializer, VersionSerializer
from products.api.views.base import ApiView
from products.selectors import product_get, product_list_for_team, product_version_get, product_version_list


class ProductListApi(ApiView):
    OutputSerializer = ProductSerializer

    @extend_schema(operation_id="products_list", parameters=PAGE_PARAMETERS,
                   responses=page_of(ProductSerializer, "ProductPage"))
    def get(self, request):
        products = product_list_for_team(team=request.auth.team).select_related("live_version").order_by("name", "pk")
        return paginated_response(serializer_class=self.OutputSerializer, queryset=products, request=request, view=self)


class ProductDetailApi(ApiView):
    OutputSerializer = ProductSerializer

    @extend_schema(operation_id="products_read", responses=ProductSerializer)
    def get(self, request, slug: str):
        product = product_get(team=request.auth.team, slug=slug)
        return Response(self.OutputSerializer(product).data)


class VersionListApi(ApiView):
    OutputSerializer = VersionSerializer

    @extend_schema(operation_id="versions_list", parameters=PAGE_PARAMETERS,
                   responses=page_of(VersionSerializer, "VersionPage"))
    def get(self, request, slug: str):
        product = product_get(team=request.auth.team, slug=slug)
        versions = product_version_list(product=product).select_related("product")
        return paginated_response(serializer_class=self.OutputSerializer, queryset=versions, request=request, view=self)


class VersionDetailApi(ApiView):
    OutputSerializer = VersionSerializer

    @extend_schema(operation_id="versions_read", responses=VersionSerializer)
    def get(self, request, slug: str, number: int):
        product = product_get(team=request.auth.team, slug=slug)
        return Response(self.OutputSerializer(product_version_get(product=product, number=number)).data)
