"""Dataset pages: list, upload, review and map, versions, clean-ups, downloads. One service call per view."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from products.datasets.cleanup import (
    CLEAN_FORMULAS,
    CLEANUPS,
    DROP_DUPLICATES,
    DROP_EMPTY_ROWS,
    READ_AS_WINDOWS_1252,
    TRIM_WHITESPACE,
)
from products.datasets.export import csv_export, jsonl_export
from products.datasets.forms import DatasetCleanupForm, DatasetMappingForm, DatasetUploadForm
from products.datasets.labels import dataset_version_label_summary
from products.datasets.mapping import purpose_guess
from products.datasets.requirements import all_shapes, kind_labels, shape_get
from products.datasets.selectors import (
    SPLITS,
    dataset_examples_preview,
    dataset_file_preview,
    dataset_get,
    dataset_list_for_team,
    dataset_upload_get,
    dataset_upload_list_for_team,
    dataset_version_get,
    dataset_version_iter_rows,
    dataset_version_list,
    dataset_version_usages,
)
from products.datasets.services import (
    DatasetFileRejected,
    dataset_upload_create,
    dataset_upload_create_with_fixes,
    dataset_upload_discard,
    dataset_version_clean,
    dataset_version_create,
    dataset_version_delete,
    megabytes,
    upload_too_large_message,
)
from products.datasets.uploads import TOO_LARGE_ATTRIBUTE, SizeCapUploadHandler
from products.models import DatasetUpload, DatasetVersion
from products.models.dataset import StoredDatasetFile, Verdict
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role

T = "products/datasets/"
#: Multipart framing around the file: a request this much over the cap is refused before parsing.
MULTIPART_SLACK = 1024 * 1024


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def _errors(exc: ValidationError) -> list[str]:
    return list(exc.messages)


@require_GET
@team_view()
def dataset_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    team = membership.team
    can_manage = membership.can(Role.ADMIN)
    context = {
        "datasets": dataset_list_for_team(team=team),
        "uploads": dataset_upload_list_for_team(team=team) if can_manage else [],
        "can_manage": can_manage,
        "kind_labels": kind_labels(),
    }
    return render(request, T + "list.html", context)


# Upload ------------------------------------------------------------------------------------------


@csrf_exempt
def dataset_upload(request: HttpRequest, team_slug: str, dataset_id: int | None = None) -> HttpResponse:
    # The size cap must be in place before anything reads request.POST, and the CSRF middleware
    # reads it; so CSRF is checked by the inner view, after the handler is installed.
    request.upload_handlers.insert(0, SizeCapUploadHandler(request, settings.MAX_UPLOAD_BYTES))
    return _dataset_upload(request, team_slug, dataset_id=dataset_id)


@csrf_protect
@require_http_methods(["GET", "POST"])
@team_view(Role.ADMIN)
def _dataset_upload(request: HttpRequest, membership: Membership, dataset_id: int | None = None) -> HttpResponse:
    team = membership.team
    dataset = dataset_get(team=team, dataset_id=dataset_id) if dataset_id else None
    form = DatasetUploadForm(new_dataset=dataset is None)
    rejected, too_large_error = None, ""
    status = 200
    if request.method == "POST":
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.MAX_UPLOAD_BYTES + MULTIPART_SLACK:
            too_large_error, status = upload_too_large_message(declared), 413  # refused before parsing the body
        else:
            form = DatasetUploadForm(request.POST, request.FILES, new_dataset=dataset is None)
            too_large = getattr(request, TOO_LARGE_ATTRIBUTE, None)  # set while request.FILES was parsed
            if too_large:
                form = DatasetUploadForm(initial=request.POST.dict(), new_dataset=dataset is None)
                too_large_error, status = upload_too_large_message(too_large), 413
            elif form.is_valid():
                try:
                    upload = dataset_upload_create(
                        team=team,
                        user=request.user,
                        file=form.cleaned_data["file"],
                        dataset=dataset,
                        name=form.cleaned_data.get("name", ""),
                        description=form.cleaned_data.get("description", ""),
                    )
                except DatasetFileRejected as exc:
                    rejected = exc.result.report
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        for error in errors:
                            form.add_error(field if field in form.fields else None, error)
                else:
                    url = reverse("dataset_upload_review", args=[team.slug, upload.pk])
                    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context = {
        "form": form,
        "dataset": dataset,
        "rejected": rejected,
        "too_large_error": too_large_error,
        "max_bytes": settings.MAX_UPLOAD_BYTES,
        "max_label": megabytes(settings.MAX_UPLOAD_BYTES),
        "action": request.path,
    }
    template = T + ("upload.html#upload-panel" if request.htmx else "upload.html")
    return render(request, template, context, status=status)


def _mapping_context(obj: StoredDatasetFile, form: DatasetMappingForm) -> dict:
    shape = form.shape
    return {
        "mapping_form": form,
        "examples": dataset_examples_preview(obj, shape=shape, mapping=form.current_mapping()),
        "shape": shape,
    }


def _new_mapping_form(
    obj: StoredDatasetFile, data: Any = None, *, version: DatasetVersion | None = None
) -> DatasetMappingForm:
    columns = obj.column_names
    if version is not None:
        return DatasetMappingForm(
            data, columns=columns, purpose=f"{version.kind}:{version.shape}", mapping=version.column_mapping,
            percent=round(version.validation_fraction * 100), seed=version.split_seed,
        )
    shape = purpose_guess(columns=columns, shapes=all_shapes())
    return DatasetMappingForm(data, columns=columns, purpose=shape.key)


def _save_mapping(request: HttpRequest, form: DatasetMappingForm, source: DatasetUpload | DatasetVersion):
    """Validate the mapping form and save a version; returns the version, or None with errors on the form."""
    if request.POST.get("action") != "save" or request.htmx or form.switched or not form.is_valid():
        return None
    try:
        return dataset_version_create(
            source=source,
            user=request.user,
            kind=form.shape.kind,
            shape=form.shape.id,
            column_mapping=form.mapping(),
            validation_fraction=form.cleaned_data["validation_percent"] / 100,
            split_seed=form.cleaned_data["split_seed"],
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            form.add_service_errors(exc.message_dict)
        else:
            for message in exc.messages:
                form.add_error(None, message)
        return None


@require_http_methods(["GET", "POST"])
@team_view(Role.ADMIN)
def upload_review(request: HttpRequest, membership: Membership, upload_id: int) -> HttpResponse:
    """The report, a preview and the column mapping of an upload; saving makes the version."""
    team = membership.team
    upload = dataset_upload_get(team=team, upload_id=upload_id)
    if upload.verdict == Verdict.UNUSABLE:  # only the fix buttons: no rows to preview or map yet
        return render(request, T + "review.html", _review_context(upload))
    if request.method == "GET" and request.htmx:
        return render(request, T + "review.html#preview", _preview_context(request, upload))
    form = _new_mapping_form(upload, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        version = _save_mapping(request, form, upload)
        if version is not None:
            messages.success(request, f"Saved {version.dataset.name} v{version.number}.")
            return redirect("dataset_version", team.slug, version.dataset_id, version.number)
        if request.htmx:
            return render(request, T + "review.html#mapping", {"upload": upload, **_mapping_context(upload, form)})
    context = {**_review_context(upload), **_mapping_context(upload, form), **_preview_context(request, upload)}
    return render(request, T + "review.html", context)


def _review_context(upload: DatasetUpload) -> dict:
    return {"upload": upload, "newest_copy": upload.fixed_copies.order_by("-created_at").first(),
            **_fix_context(upload.report)}


def _fix_context(report: dict) -> dict:
    """What the report's fix buttons need: which fixes it offers, and whether the encoding must come first."""
    actions = [issue["action"]["fix"] for issue in report.get("issues", []) if issue.get("action")]
    return {
        "fix_actions": list(dict.fromkeys(actions)),
        # Until the letters can be read, every other fix would have to guess them: offer that one first.
        "fixes_wait_for_encoding": READ_AS_WINDOWS_1252 in actions,
    }


@require_POST
@team_view(Role.ADMIN)
def upload_fix(request: HttpRequest, membership: Membership, upload_id: int) -> HttpResponse:
    """A fix button: make a fixed copy of the upload and show its review (the original stays as it was)."""
    team = membership.team
    upload = dataset_upload_get(team=team, upload_id=upload_id)
    back = reverse("dataset_upload_review", args=[team.slug, upload.pk])
    try:
        fixed = dataset_upload_create_with_fixes(
            upload=upload, user=request.user, actions=request.POST.getlist("actions")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
        return redirect(back)
    messages.success(request, f"Made a fixed copy: {fixed.note}. The original upload is kept as it was.")
    # A plain form and a redirect: the new copy has its own address, and the page works without JavaScript.
    return redirect("dataset_upload_review", team.slug, fixed.pk)


def _preview_context(request: HttpRequest, obj: StoredDatasetFile) -> dict:
    return {"preview": dataset_file_preview(obj, page=_page_number(request)), "preview_url": request.path}


@require_POST
@team_view(Role.ADMIN)
def upload_discard(request: HttpRequest, membership: Membership, upload_id: int) -> HttpResponse:
    upload = dataset_upload_get(team=membership.team, upload_id=upload_id)
    dataset_upload_discard(upload=upload, with_earlier=True)
    messages.success(request, f"Discarded the upload of {upload.original_name}.")
    return redirect("dataset_list", membership.team.slug)


# Datasets and versions --------------------------------------------------------------------------


@require_GET
@team_view()
def dataset_detail(request: HttpRequest, membership: Membership, dataset_id: int) -> HttpResponse:
    dataset = dataset_get(team=membership.team, dataset_id=dataset_id)
    versions = [
        {"version": version, "usages": dataset_version_usages(version=version)}
        for version in dataset_version_list(dataset=dataset)
    ]
    context = {
        "dataset": dataset,
        "versions": versions,
        "uploads": dataset_upload_list_for_team(team=membership.team).filter(dataset=dataset)
        if membership.can(Role.ADMIN) else [],
        "can_manage": membership.can(Role.ADMIN),
        "kind_labels": kind_labels(),
    }
    return render(request, T + "dataset.html", context)


def _version(membership: Membership, dataset_id: int, number: int) -> DatasetVersion:
    dataset = dataset_get(team=membership.team, dataset_id=dataset_id)
    return dataset_version_get(dataset=dataset, number=number)


def _version_context(request: HttpRequest, membership: Membership, version: DatasetVersion) -> dict:
    shape = shape_get(version.kind, version.shape)
    report = version.report
    return {
        "dataset": version.dataset,
        "version": version,
        "shape": shape,
        "mapping_rows": [(need, version.column_mapping.get(need.name, [])) for need in shape.needs],
        "examples": dataset_examples_preview(version, shape=shape, mapping=version.column_mapping),
        "usages": dataset_version_usages(version=version),
        "can_manage": membership.can(Role.ADMIN),
        "cleanups": [
            (DROP_DUPLICATES, CLEANUPS[DROP_DUPLICATES], report.get("duplicate_rows", 0)),
            (DROP_EMPTY_ROWS, CLEANUPS[DROP_EMPTY_ROWS], report.get("empty_rows", 0)),
            (TRIM_WHITESPACE, CLEANUPS[TRIM_WHITESPACE], _issue_count(report, "whitespace")),
            (CLEAN_FORMULAS, CLEANUPS[CLEAN_FORMULAS], _issue_count(report, "formula_cells")),
        ],
        **_fix_context(report),
        "kind_label": kind_labels().get(version.kind, version.kind),
        "label_summary": dataset_version_label_summary(version),
        **_preview_context(request, version),
    }


def _issue_count(report: dict, code: str) -> int:
    return sum(issue["count"] for issue in report.get("issues", []) if issue["code"] == code)


@require_GET
@team_view()
def version_detail(request: HttpRequest, membership: Membership, dataset_id: int, number: int) -> HttpResponse:
    version = _version(membership, dataset_id, number)
    if request.htmx:
        return render(request, T + "version.html#preview", _preview_context(request, version))
    return render(request, T + "version.html", _version_context(request, membership, version))


@require_POST
@team_view(Role.ADMIN)
def version_clean(request: HttpRequest, membership: Membership, dataset_id: int, number: int) -> HttpResponse:
    version = _version(membership, dataset_id, number)
    form = DatasetCleanupForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("dataset_version", membership.team.slug, dataset_id, number)
    try:
        cleaned = dataset_version_clean(version=version, user=request.user, actions=form.cleaned_data["actions"])
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
        return redirect("dataset_version", membership.team.slug, dataset_id, number)
    messages.success(request, f"Saved v{cleaned.number}: {cleaned.note}")
    return redirect("dataset_version", membership.team.slug, dataset_id, cleaned.number)


@require_http_methods(["GET", "POST"])
@team_view(Role.ADMIN)
def version_remap(request: HttpRequest, membership: Membership, dataset_id: int, number: int) -> HttpResponse:
    """Use a version for another kind or split: a new version sharing the same file."""
    version = _version(membership, dataset_id, number)
    form = _new_mapping_form(version, request.POST if request.method == "POST" else None, version=version)
    if request.method == "POST":
        created = _save_mapping(request, form, version)
        if created is not None:
            messages.success(request, f"Saved v{created.number}: {created.note}.")
            return redirect("dataset_version", membership.team.slug, dataset_id, created.number)
        if request.htmx:
            return render(request, T + "remap.html#mapping", {"version": version, **_mapping_context(version, form)})
    context = {"dataset": version.dataset, "version": version, **_mapping_context(version, form)}
    return render(request, T + "remap.html", context)


@require_POST
@team_view(Role.ADMIN)
def version_delete(request: HttpRequest, membership: Membership, dataset_id: int, number: int) -> HttpResponse:
    version = _version(membership, dataset_id, number)
    try:
        dataset_version_delete(version=version)
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
        return redirect("dataset_version", membership.team.slug, dataset_id, number)
    messages.success(request, f"Deleted v{number} of {version.dataset.name}.")
    return redirect("dataset_detail", membership.team.slug, dataset_id)


async def _in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Under ASGI a synchronous iterator would be read whole into memory first; step it in a thread instead.
    done = object()
    while (chunk := await sync_to_async(next, thread_sensitive=False)(chunks, done)) is not done:
        yield chunk


@require_GET
@team_view()
def version_download(request: HttpRequest, membership: Membership, dataset_id: int, number: int) -> HttpResponse:
    """The version as CSV (formulas neutralised) or JSONL, optionally one split; always an attachment."""
    version = _version(membership, dataset_id, number)
    export = request.GET.get("format", "csv")
    split = request.GET.get("split") or None
    if export not in ("csv", "jsonl") or (split is not None and split not in SPLITS):
        raise Http404("No such download.")
    rows = dataset_version_iter_rows(version, split=split)
    if export == "csv":
        chunks, content_type = csv_export(rows, version.column_names), "text/csv; charset=utf-8"
    else:
        chunks, content_type = jsonl_export(rows), "application/x-ndjson; charset=utf-8"
    name = f"{slugify(version.dataset.name) or 'dataset'}-v{version.number}{f'-{split}' if split else ''}.{export}"
    body = _in_thread(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
