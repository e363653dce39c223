"""The generation log: list with feedback, read one, set feedback."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from products.api.authentication import CanGenerate
from products.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from products.api.selectors import generation_list_for_product
from products.api.serializers import GenerationSerializer
from products.api.views.base import ApiView
from products.selectors import generation_get, product_get
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
