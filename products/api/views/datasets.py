"""Datasets: list and read them with their versions; upload a file as a new dataset or a new version.

An upload is validated as a stream, stored and mapped in one request (the pages split this into
upload, report and mapping). A file the dataset doctor cannot use comes back as 400 with its report.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from products.api.authentication import CanManage
from products.api.errors import api_validation_error
from products.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from products.api.serializers import DatasetSerializer, DatasetVersionSerializer
from products.api.services import api_dataset_version_upload
from products.api.views.base import ApiView
from products.datasets.mapping import mapping_shape_check
from products.datasets.requirements import all_shapes
from products.datasets.selectors import dataset_get, dataset_list_for_team, dataset_version_list
from products.datasets.services import MAX_SEED, DatasetFileRejected, upload_too_large_message
from products.datasets.split import DEFAULT_SEED
from products.datasets.uploads import TOO_LARGE_ATTRIBUTE, SizeCapUploadHandler
from products.models import Dataset
from studio import jsonsafe

# Multipart framing around the file: a request this much over the cap is refused before it is parsed.
MULTIPART_SLACK = 1024 * 1024
USES = [shape.key for shape in all_shapes()]


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class DatasetWithVersionsSerializer(DatasetSerializer):
    versions = DatasetVersionSerializer(many=True, help_text="Newest first.")


class DatasetSummarySerializer(DatasetSerializer):
    version_count = serializers.IntegerField()
    latest_version = serializers.IntegerField(source="latest_number", allow_null=True)


class ColumnMappingField(serializers.JSONField):
    """A multipart text field holding JSON: parsed with the studio's bounds, then checked as {field: [column]}."""

    def __init__(self, **kwargs):
        super().__init__(binary=True, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bytes):
            data = data.decode("utf-8", errors="replace")
        try:
            value = jsonsafe.loads(data) if isinstance(data, str) else data
        except ValueError as exc:  # DRF's own parse let deep nesting raise RecursionError
            raise serializers.ValidationError(f"The column mapping cannot be read as JSON: {exc}") from None
        try:
            return mapping_shape_check(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


@extend_schema_serializer(component_name="DatasetUpload")
class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text="CSV, TSV, JSONL or TXT.")
    use = serializers.ChoiceField(choices=USES, help_text="What the rows are for, as `kind:shape`.")
    column_mapping = ColumnMappingField(
        required=False,
        help_text='JSON: each field of the use and the columns that feed it, e.g. {"question": ["q"], '
                  '"answer": ["a"]}. Guessed from the column names when left out.',
    )
    validation_fraction = serializers.FloatField(default=0.1, min_value=0, max_value=0.5)
    split_seed = serializers.IntegerField(default=DEFAULT_SEED, min_value=0, max_value=MAX_SEED)
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=300)


@extend_schema_serializer(component_name="NewDatasetUpload")
class NewDatasetSerializer(UploadSerializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)


UPLOAD_RESPONSES = {
    201: DatasetWithVersionsSerializer,
    400: OpenApiResponse(description="The file cannot be used (with its `report`), or a field names the fix."),
    413: OpenApiResponse(description="The file is over the studio's upload limit."),
}


def _read_upload(request, serializer_class: type[serializers.Serializer]) -> dict:
    """The request's fields, reading the file through the size cap (a huge file is dropped, not stored)."""
    if int(request.META.get("CONTENT_LENGTH") or 0) > settings.MAX_UPLOAD_BYTES + MULTIPART_SLACK:
        raise PayloadTooLarge(upload_too_large_message(int(request.META["CONTENT_LENGTH"])))
    request.upload_handlers.insert(0, SizeCapUploadHandler(request._request, settings.MAX_UPLOAD_BYTES))
    serializer = serializer_class(data=request.data)
    too_large = getattr(request._request, TOO_LARGE_ATTRIBUTE, None)  # set while the body was parsed
    if too_large:
        raise PayloadTooLarge(upload_too_large_message(too_large))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _upload(*, api_key, data: dict, dataset: Dataset | None = None) -> Response:
    try:
        version = api_dataset_version_upload(
            api_key=api_key, dataset=dataset, file=data["file"], use=data["use"],
            column_mapping=data.get("column_mapping"), name=data.get("name", ""),
            description=data.get("description", ""), validation_fraction=data["validation_fraction"],
            split_seed=data["split_seed"], note=data["note"],
        )
    except DatasetFileRejected as rejected:
        return Response({"file": [rejected.result.error_message], "report": rejected.result.report},
                        status=status.HTTP_400_BAD_REQUEST)
    except DjangoValidationError as exc:
        raise api_validation_error(exc, place=_request_field) from None
    return Response(DatasetWithVersionsSerializer(_with_versions(version.dataset)).data,
                    status=status.HTTP_201_CREATED)


def _request_field(field: str) -> tuple[str, ...]:
    """Where a service error belongs: the use's fields (question, answer...) are under ``column_mapping``."""
    if field == "purpose":
        return ("use",)
    return (field,) if field in NewDatasetSerializer().fields else ("column_mapping", field)


def _with_versions(dataset: Dataset) -> dict:
    return {**{name: getattr(dataset, name) for name in DatasetSerializer().fields},
            "versions": list(dataset_version_list(dataset=dataset))}


class DatasetListApi(ApiView):
    parser_classes = [MultiPartParser]

    def get_permissions(self):
        return [CanManage()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(operation_id="datasets_list", parameters=PAGE_PARAMETERS,
                   responses=page_of(DatasetSummarySerializer, "DatasetPage"))
    def get(self, request):
        datasets = dataset_list_for_team(team=request.auth.team).order_by("name", "pk")
        return paginated_response(serializer_class=DatasetSummarySerializer, queryset=datasets, request=request,
                                  view=self)

    @extend_schema(operation_id="datasets_create", request={"multipart/form-data": NewDatasetSerializer},
                   responses=UPLOAD_RESPONSES)
    def post(self, request):
        return _upload(api_key=request.auth, data=_read_upload(request, NewDatasetSerializer))


class DatasetDetailApi(ApiView):
    @extend_schema(operation_id="datasets_read", responses=DatasetWithVersionsSerializer)
    def get(self, request, dataset_id: int):
        dataset = dataset_get(team=request.auth.team, dataset_id=dataset_id)
        return Response(DatasetWithVersionsSerializer(_with_versions(dataset)).data)


class DatasetVersionCreateApi(ApiView):
    permission_classes = [CanManage]
    parser_classes = [MultiPartParser]

    @extend_schema(operation_id="dataset_versions_create", request={"multipart/form-data": UploadSerializer},
                   responses=UPLOAD_RESPONSES)
    def post(self, request, dataset_id: int):
        dataset = dataset_get(team=request.auth.team, dataset_id=dataset_id)
        return _upload(api_key=request.auth, dataset=dataset, data=_read_upload(request, UploadSerializer))
