"""Fine-tuning through the API: start a run for a product, list and read runs, cancel one.

The run's page in the studio shows the same run live; through the API, poll the run to follow it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from inference.models import TrainingRun
from inference.selectors import training_run_get, training_run_list_for_product, training_run_list_for_team
from products.api.authentication import CanManage
from products.api.errors import api_validation_error
from products.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from products.api.serializers import TrainingRunSerializer
from products.api.services import api_training_run_cancel, api_training_run_start
from products.api.views.base import ApiView
from products.datasets.selectors import dataset_get, dataset_version_get, dataset_version_list
from products.selectors import product_get
from products.training.hyperparameters import HyperParameters

STATUSES = [choice.value for choice in TrainingRun.Status]


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _run_page(request, view, runs):
    filters = StatusFilterSerializer(data=request.query_params)
    filters.is_valid(raise_exception=True)
    if filters.validated_data.get("status"):
        runs = runs.filter(status=filters.validated_data["status"])
    runs = runs.select_related("team", "evaluation", "artifact").order_by("-created_at", "-pk")
    return paginated_response(serializer_class=TrainingRunSerializer, queryset=runs, request=request, view=view)


class StatusFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUSES, required=False)


STATUS_PARAMETER = OpenApiParameter("status", str, enum=STATUSES, description="Only runs with this status.")


@extend_schema_serializer(component_name="TrainingSettings")
class SettingsSerializer(serializers.Serializer):
    """Each optional: left out, the studio chooses it from the dataset's size, as the Fine-tune page does."""

    epochs = serializers.IntegerField(required=False)
    learning_rate = serializers.FloatField(required=False)
    batch_size = serializers.IntegerField(required=False)
    max_length = serializers.IntegerField(required=False, help_text="Tokens per example.")
    lora_rank = serializers.IntegerField(required=False)
    lora_alpha = serializers.IntegerField(required=False)
    lora_dropout = serializers.FloatField(required=False)
    warmup_fraction = serializers.FloatField(required=False)
    checkpoint_every = serializers.IntegerField(required=False, help_text="Steps between checkpoints.")
    eval_samples = serializers.IntegerField(required=False, help_text="Side-by-side samples in the report.")
    sample_tokens = serializers.IntegerField(required=False)
    seed = serializers.IntegerField(required=False)


class ProductTrainingRunsApi(ApiView):
    @extend_schema_serializer(component_name="TrainingRunStart")
    class InputSerializer(serializers.Serializer):
        dataset = serializers.IntegerField(help_text="The dataset's id (GET /api/v1/datasets/).")
        dataset_version = serializers.IntegerField(
            required=False, min_value=1, help_text="The version's number; the newest version when left out."
        )
        settings = SettingsSerializer(required=False, default=dict)
        catalog = serializers.IntegerField(
            required=False, help_text="Recommenders: the catalog dataset's id (`dataset` is then the interactions); "
                                      "its newest version is used.")

    def get_permissions(self):
        return [CanManage()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(operation_id="product_training_runs_list", parameters=[*PAGE_PARAMETERS, STATUS_PARAMETER],
                   responses=page_of(TrainingRunSerializer, "TrainingRunPage"))
    def get(self, request, slug: str):
        product = product_get(team=request.auth.team, slug=slug)
        return _run_page(request, self, training_run_list_for_product(product=product))

    @extend_schema(
        operation_id="training_runs_create", request=InputSerializer,
        responses={201: TrainingRunSerializer,
                   400: OpenApiResponse(description="The dataset version or a setting cannot be used; says why.")},
    )
    def post(self, request, slug: str):
        product = product_get(team=request.auth.team, slug=slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        dataset = dataset_get(team=request.auth.team, dataset_id=data["dataset"])
        if "dataset_version" in data:
            version = dataset_version_get(dataset=dataset, number=data["dataset_version"])
        else:
            version = dataset_version_list(dataset=dataset).first()
            if version is None:
                raise exceptions.ValidationError({"dataset": [f"“{dataset.name}” has no versions yet."]})
        catalog = None
        if "catalog" in data:
            catalog_dataset = dataset_get(team=request.auth.team, dataset_id=data["catalog"])
            catalog = dataset_version_list(dataset=catalog_dataset).first()
            if catalog is None:
                raise exceptions.ValidationError({"catalog": ["The catalog dataset has no versions yet."]})
        try:
            run = api_training_run_start(api_key=request.auth, product=product, dataset_version=version,
                                         settings=data["settings"], catalog_version=catalog)
        except DjangoValidationError as exc:
            # Hyper-parameters are nested under ``settings`` in the request, so their errors are too.
            raise api_validation_error(
                exc, place=lambda field: ("settings", field) if field in HyperParameters.LIMITS else (field,)
            ) from None
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_201_CREATED)


class TrainingRunListApi(ApiView):
    @extend_schema(operation_id="training_runs_list", parameters=[*PAGE_PARAMETERS, STATUS_PARAMETER],
                   responses=page_of(TrainingRunSerializer, "TeamTrainingRunPage"))
    def get(self, request):
        return _run_page(request, self, training_run_list_for_team(team=request.auth.team))


class TrainingRunDetailApi(ApiView):
    @extend_schema(operation_id="training_runs_read", responses=TrainingRunSerializer)
    def get(self, request, run_id: int):
        return Response(TrainingRunSerializer(training_run_get(team=request.auth.team, run_id=run_id)).data)


class TrainingRunCancelApi(ApiView):
    permission_classes = [CanManage]

    @extend_schema(
        operation_id="training_runs_cancel", request=None,
        responses={200: TrainingRunSerializer,
                   409: OpenApiResponse(description="The run has already finished; there is nothing to cancel.")},
    )
    def post(self, request, run_id: int):
        run = training_run_get(team=request.auth.team, run_id=run_id)
        try:
            run = api_training_run_cancel(api_key=request.auth, run=run)
        except DjangoValidationError as exc:
            raise Conflict(exc.messages[0]) from None
        return Response(TrainingRunSerializer(run).data)
