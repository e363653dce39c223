"""Products and their versions: read them; create a product from a gallery template (a manage-scope key)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from products.api.authentication import CanManage
from products.api.errors import api_validation_error
from products.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from products.api.serializers import ProductDetailSerializer, ProductSerializer, VersionSerializer
from products.api.services import api_product_create
from products.api.views.base import ApiView
from products.datasets.selectors import dataset_get, dataset_version_get, dataset_version_list
from products.selectors import product_get, product_list_for_team, product_version_get, product_version_list


class ProductListApi(ApiView):
    OutputSerializer = ProductSerializer

    @extend_schema_serializer(component_name="ProductCreate")
    class InputSerializer(serializers.Serializer):
        kind = serializers.CharField(max_length=40, help_text="A product kind's id: `copywriting`, `qa`.")
        template = serializers.CharField(max_length=60, help_text="A template of that kind, e.g. `store-faq`.")
        name = serializers.CharField(max_length=120, required=False, default="", allow_blank=True,
                                     help_text="The template's name when left out.")
        knowledge_dataset = serializers.IntegerField(
            required=False,
            help_text="Q&A: the id of a dataset mapped as Q&A documents or pairs (GET /api/v1/datasets/).",
        )
        knowledge_dataset_version = serializers.IntegerField(
            required=False, min_value=1, help_text="Q&A: that dataset's version number; the newest when left out."
        )

    def get_permissions(self):
        return [CanManage()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(
        operation_id="products_create", request=InputSerializer,
        responses={201: ProductDetailSerializer,
                   400: OpenApiResponse(description="Unknown kind or template, or a dataset that cannot be a "
                                                    "knowledge base; says why."),
                   404: OpenApiResponse(description="The knowledge dataset is not one of the key's team's.")},
        examples=[OpenApiExample("Q&A", request_only=True, value={
            "kind": "qa", "template": "store-faq", "name": "Shop helper", "knowledge_dataset": 3})],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        knowledge = None
        if "knowledge_dataset" in data:
            dataset = dataset_get(team=request.auth.team, dataset_id=data["knowledge_dataset"])
            if "knowledge_dataset_version" in data:
                knowledge = dataset_version_get(dataset=dataset, number=data["knowledge_dataset_version"])
            else:
                knowledge = dataset_version_list(dataset=dataset).first()
                if knowledge is None:
                    raise exceptions.ValidationError({"knowledge_dataset": [f"“{dataset.name}” has no versions yet."]})
        elif "knowledge_dataset_version" in data:
            raise exceptions.ValidationError({"knowledge_dataset": ["Name the dataset whose version this is."]})
        try:
            product = api_product_create(api_key=request.auth, kind_id=data["kind"], template_id=data["template"],
                                         name=data["name"], knowledge_version=knowledge)
        except DjangoValidationError as exc:
            raise api_validation_error(
                exc, place=lambda field: ("knowledge_dataset",) if field == "knowledge_version" else (field,)
            ) from None
        return Response(ProductDetailSerializer(product).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="products_list", parameters=PAGE_PARAMETERS,
                   responses=page_of(ProductSerializer, "ProductPage"))
    def get(self, request):
        products = product_list_for_team(team=request.auth.team).select_related("live_version").order_by("name", "pk")
        return paginated_response(serializer_class=self.OutputSerializer, queryset=products, request=request, view=self)


class ProductDetailApi(ApiView):
    OutputSerializer = ProductDetailSerializer

    @extend_schema(operation_id="products_read", responses=ProductDetailSerializer)
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
