"""Product pages, mounted under /t/<team_slug>/products/."""

from __future__ import annotations

from django.urls import include, path

from products.views import embed, engine, evaluation, gallery, knowledge, labelling, playground, versions

urlpatterns = [
    path("", gallery.product_list, name="product_list"),
    path("new/", gallery.product_new, name="product_new"),
    path("generations/<int:generation_id>/feedback/", playground.generation_feedback, name="generation_feedback"),
    path("<slug:product_slug>/", playground.playground, name="playground"),
    path("<slug:product_slug>/draft/", playground.draft_save, name="draft_save"),
    path("<slug:product_slug>/knowledge/", knowledge.knowledge_settings, name="knowledge_settings"),
    path("<slug:product_slug>/knowledge/documents/", knowledge.knowledge_documents, name="knowledge_documents"),
    path("<slug:product_slug>/knowledge/status/", knowledge.knowledge_status_partial, name="knowledge_status"),
    path("<slug:product_slug>/evaluation/", evaluation.evaluation, name="evaluation"),
    path("<slug:product_slug>/evaluation/<int:evaluation_id>/", evaluation.evaluation_report,
         name="evaluation_report"),
    path("<slug:product_slug>/evaluation/<int:evaluation_id>/report/", evaluation.evaluation_report_partial,
         name="evaluation_report_partial"),
    path("<slug:product_slug>/evaluation/<int:evaluation_id>/use-threshold/", evaluation.evaluation_threshold_use,
         name="evaluation_threshold_use"),
    path("<slug:product_slug>/label-file/", labelling.label_file, name="label_file"),
    path("<slug:product_slug>/label-file/jobs/", labelling.label_file_jobs, name="label_file_jobs"),
    path("<slug:product_slug>/label-file/<int:job_id>/download/", labelling.label_file_download,
         name="label_file_download"),
    path("<slug:product_slug>/versions/", versions.version_list, name="versions"),
    path("<slug:product_slug>/versions/new/", versions.version_create, name="version_create"),
    path("<slug:product_slug>/versions/settings/", versions.version_kind_config, name="version_kind_config"),
    path("<slug:product_slug>/versions/<int:number>/publish/", versions.version_publish, name="version_publish"),
    path("<slug:product_slug>/embed/", embed.embed_settings, name="embed"),
    path("<slug:product_slug>/embed/rotate-key/", embed.embed_key_rotate, name="embed_key_rotate"),
    path("<slug:product_slug>/engine/", engine.engine_settings, name="engine"),
    path("<slug:product_slug>/engine/check/", engine.engine_check, name="engine_check"),
    path("<slug:product_slug>/compare/", include("products.comparisons.urls")),
]
