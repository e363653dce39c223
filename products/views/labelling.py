"""A classification product's “Label a file” tab: label every row of a dataset with a trained version."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from inference.models import LabellingJob
from inference.protocol import Task
from products.forms import LabelFileForm
from products.kinds import get_kind
from products.labelling.selectors import (
    labelling_dataset_choices,
    labelling_job_get,
    labelling_jobs_for,
    labelling_version_choices,
)
from products.labelling.services import labelling_job_create
from products.models import Product
from products.selectors import product_get
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role


def _classifier_product(membership: Membership, product_slug: str) -> Product:
    product = product_get(team=membership.team, slug=product_slug)
    if get_kind(product.kind).task != Task.CLASSIFY:
        raise Http404("Only classification products label files.")
    return product


def _form(product: Product, data=None) -> LabelFileForm:
    versions = labelling_version_choices(product=product)
    live = versions.filter(pk=product.live_version_id).first()
    return LabelFileForm(data, datasets=labelling_dataset_choices(product=product), versions=versions,
                         initial={"version": live or versions.first()})


def _jobs_polling(jobs: list[LabellingJob]) -> bool:
    return any(not job.is_finished for job in jobs)


@require_http_methods(["GET", "POST"])
@team_view()
def label_file(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = _classifier_product(membership, product_slug)
    form = _form(product)
    if request.method == "POST":
        if not membership.can(Role.EDITOR):
            raise Http404  # the page's form is not shown to viewers; a forged post finds nothing
        form = _form(product, request.POST)
        if form.is_valid():
            try:
                labelling_job_create(product=product, version=form.cleaned_data["version"],
                                     dataset_version=form.cleaned_data["dataset_version"], user=request.user)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "Labelling started. The file appears below when every row is labelled.")
                return redirect("label_file", team_slug=membership.team.slug, product_slug=product.slug)
    jobs = labelling_jobs_for(product=product)
    return render(request, "products/label_file.html", {
        "product": product, "form": form, "jobs": jobs, "polling": _jobs_polling(jobs),
        "has_versions": form.fields["version"].queryset.exists(),
        "has_datasets": form.fields["dataset_version"].queryset.exists(),
    })


@require_GET
@team_view()
def label_file_jobs(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """The jobs table alone: the page polls it every 2 s while a file is being labelled."""
    product = _classifier_product(membership, product_slug)
    jobs = labelling_jobs_for(product=product)
    return render(request, "products/_label_file_jobs.html",
                  {"product": product, "jobs": jobs, "polling": _jobs_polling(jobs)})


@require_GET
@team_view()
def label_file_download(request: HttpRequest, membership: Membership, product_slug: str,
                        job_id: int) -> FileResponse:
    product = _classifier_product(membership, product_slug)
    job = labelling_job_get(product=product, job_id=job_id)
    if job.status != LabellingJob.Status.SUCCEEDED or not job.output:
        raise Http404("This file is not labelled yet.")
    name = f"{job.dataset_version.dataset.name} v{job.dataset_version.number} labelled.csv"
    return FileResponse(job.output.open("rb"), as_attachment=True, filename=name, content_type="text/csv")
