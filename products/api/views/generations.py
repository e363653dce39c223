"""The generation log: list with feedback, read one, set feedback, export as CSV or JSON Lines."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.handlers.asgi import ASGIRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from products.api.authentication import CanGenerate
from products.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from products.api.selectors import generation_list_for_product
from products.api.serializers import GenerationSerializer
from products.api.views.base import ApiView
from products.logs.export import export_filename, export_response
from products.logs.selectors import DRAFT, LogFilters, generation_log_filter
from products.selectors import generation_get, generation_get_for_product, product_get
from products.services import generation_feedback_set, generation_item_event_record


class GenerationListApi(ApiView):
    class FilterSerializer(serializers.Serializer):
        feedback = serializers.ChoiceField(choices=[1, 0, -1], required=False)
        channel = serializers.ChoiceField(choices=["playground", "widget", "api"], required=False)

    OutputSerializer = GenerationSerializer

    @extend_schema(
        operation_id="generations_list",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("feedback", int, enum=[1, 0, -1],
                             description="Only rated good (1), bad (-1) or unrated (0)."),
            OpenApiParameter("channel", str, enum=["playground", "widget", "api"]),
        ],
        responses=page_of(GenerationSerializer, "GenerationPage"),
    )
    def get(self, request, slug: str):
        product = product_get(team=request.auth.team, slug=slug)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        generations = generation_list_for_product(product=product, **filters.validated_data)
        return paginated_response(serializer_class=self.OutputSerializer, queryset=generations, request=request,
                                  view=self)


class GenerationDetailApi(ApiView):
    OutputSerializer = GenerationSerializer

    @extend_schema(operation_id="generations_read", responses=GenerationSerializer)
    def get(self, request, generation_id: int):
        generation = generation_get(team=request.auth.team, generation_id=generation_id)
        return Response(self.OutputSerializer(generation).data)


class GenerationFeedbackApi(ApiView):
    permission_classes = [CanGenerate]

    @extend_schema_serializer(component_name="Feedback")
    class InputSerializer(serializers.Serializer):
        value = serializers.ChoiceField(choices=[1, 0, -1], required=False,
                                        help_text="1 good, -1 bad, 0 clears the rating.")
        event = serializers.ChoiceField(choices=["click", "purchase"], required=False,
                                        help_text="A recommendation's item was clicked or bought (send `item`).")
        item = serializers.CharField(max_length=200, required=False, help_text="The recommended item's id.")

        def validate(self, attrs):
            if ("value" in attrs) == ("event" in attrs):
                raise serializers.ValidationError("Send either `value` (a rating) or `event` with `item`.")
            if "event" in attrs and not attrs.get("item"):
                raise serializers.ValidationError({"item": "Name the recommended item that was clicked or bought."})
            return attrs

    OutputSerializer = GenerationSerializer

    @extend_schema(operation_id="generations_feedback", request=InputSerializer, responses=GenerationSerializer)
    def post(self, request, generation_id: int):
        generation = generation_get(team=request.auth.team, generation_id=generation_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "event" in data:
            try:
                generation_item_event_record(generation=generation, kind=data["event"], item=data["item"])
            except DjangoValidationError as exc:
                raise ValidationError(exc.message_dict) from None
            return Response(self.OutputSerializer(generation).data)
        try:
            generation = generation_feedback_set(generation=generation, value=data["value"])
        except DjangoValidationError as exc:
            raise ValidationError({"value": exc.messages}) from None
        return Response(self.OutputSerializer(generation).data)


class ProductFeedbackApi(ApiView):
    """A click or purchase of an item one of the product's recommendations listed, reported back by the shop."""

    permission_classes = [CanGenerate]

    @extend_schema_serializer(component_name="ItemFeedback")
    class InputSerializer(serializers.Serializer):
        generation = serializers.IntegerField(help_text="The `generation` id the generate call answered with.")
        event = serializers.ChoiceField(choices=["click", "purchase"])
        item = serializers.CharField(max_length=200, help_text="The id of the recommended item.")

    @extend_schema_serializer(component_name="ItemFeedbackEvent")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        generation = serializers.IntegerField(source="generation_id")
        event = serializers.CharField(source="kind")
        item = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(operation_id="products_feedback", request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request, slug: str):
        product = product_get(team=request.auth.team, slug=slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        generation = generation_get_for_product(product=product, generation_id=data["generation"])
        try:
            event = generation_item_event_record(generation=generation, kind=data["event"], item=data["item"])
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response(self.OutputSerializer(event).data, status=201)


class _ExportRenderer(BaseRenderer):
    """Names the export formats to DRF, whose ``?format=`` picks a renderer; the view streams the body itself."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return b"" if data is None else JSONRenderer().render(data)


class CsvRenderer(_ExportRenderer):
    media_type, format = "text/csv", "csv"


class JsonLinesRenderer(_ExportRenderer):
    media_type, format = "application/x-ndjson", "jsonl"


class GenerationExportApi(ApiView):
    """The product's generations as CSV (formula-safe) or JSON Lines, streamed; the Logs tab's filters apply."""

    renderer_classes = [CsvRenderer, JsonLinesRenderer]

    class FilterSerializer(serializers.Serializer):
        version = serializers.CharField(required=False, help_text='A version number, or "draft".')
        channel = serializers.ChoiceField(choices=["playground", "widget", "api"], required=False)
        feedback = serializers.ChoiceField(choices=["up", "down", "none", "corrected"], required=False)
        date_from = serializers.DateField(required=False)
        date_to = serializers.DateField(required=False)
        q = serializers.CharField(required=False, max_length=200)

        def validate_version(self, value: str) -> int | str:
            if value == DRAFT:
                return value
            if not value.isdigit() or int(value) > 2**31 - 1:
                raise ValidationError('A version is a number, or "draft".')
            return int(value)

    @extend_schema(
        operation_id="generations_export",
        parameters=[
            OpenApiParameter("format", str, enum=["csv", "jsonl"], required=True,
                             description="CSV (cells that could run as formulas start with ') or JSON Lines."),
            OpenApiParameter("version", str, description='Only this version\'s answers (a number, or "draft").'),
            OpenApiParameter("channel", str, enum=["playground", "widget", "api"]),
            OpenApiParameter("feedback", str, enum=["up", "down", "none", "corrected"]),
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="From this day (UTC), inclusive."),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="Up to this day (UTC), inclusive."),
            OpenApiParameter("q", str, description="Words in the inputs or the answer."),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/x-ndjson"): OpenApiTypes.STR},
    )
    def get(self, request, slug: str):
        product = product_get(team=request.auth.team, slug=slug)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        generations = generation_log_filter(product=product, filters=LogFilters(**filters.validated_data))
        return export_response(generations, fmt=request.accepted_renderer.format, filename=export_filename(product),
                               asgi=isinstance(request._request, ASGIRequest))

    def handle_exception(self, exc):
        # Errors are JSON, whatever format was asked for.
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return super().handle_exception(exc)
