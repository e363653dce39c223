"""Product pages, mounted under /t/<team_slug>/products/."""

from __future__ import annotations

from django.urls import include, path

from products.views import embed, engine, gallery, knowledge, labelling, logs, playground, releases, versions

urlpatterns = [
    path("", gallery.product_list, name="product_list"),
    path("new/", gallery.product_new, name="product_new"),
    path("generations/<int:generation_id>/feedback/", playground.generation_feedback, name="generation_feedback"),
    path("<slug:product_slug>/", playground.playground, name="playground"),
    path("<slug:product_slug>/draft/", playground.draft_save, name="draft_save"),
    path("<slug:product_slug>/knowledge/", knowledge.knowledge_settings, name="knowledge_settings"),
    path("<slug:product_slug>/knowledge/status/", knowledge.knowledge_status_partial, name="knowledge_status"),
    path("<slug:product_slug>/label-file/", labelling.label_file, name="label_file"),
    path("<slug:product_slug>/label-file/jobs/", labelling.label_file_jobs, name="label_file_jobs"),
    path("<slug:product_slug>/label-file/<int:job_id>/download/", labelling.label_file_download,
         name="label_file_download"),
    path("<slug:product_slug>/versions/", versions.version_list, name="versions"),
    path("<slug:product_slug>/versions/new/", versions.version_create, name="version_create"),
    path("<slug:product_slug>/versions/settings/", versions.version_kind_config, name="version_kind_config"),
    path("<slug:product_slug>/versions/<int:number>/publish/", versions.version_publish, name="version_publish"),
    path("<slug:product_slug>/releases/", releases.releases, name="releases"),
    path("<slug:product_slug>/releases/new/", releases.release_new, name="release_new"),
    path("<slug:product_slug>/releases/<int:release_id>/", releases.release_detail, name="release_detail"),
    path("<slug:product_slug>/releases/<int:release_id>/promote/", releases.release_promote_view,
         name="release_promote"),
    path("<slug:product_slug>/releases/<int:release_id>/stop/", releases.release_stop_view, name="release_stop"),
    path("<slug:product_slug>/usage/", releases.usage, name="usage"),
    path("<slug:product_slug>/logs/", logs.log_list, name="logs"),
    path("<slug:product_slug>/logs/export/", logs.log_export, name="logs_export"),
    path("<slug:product_slug>/logs/add-to-dataset/", logs.log_add_to_dataset, name="logs_add_to_dataset"),
    path("<slug:product_slug>/logs/<int:generation_id>/", logs.log_detail, name="log_detail"),
    path("<slug:product_slug>/logs/<int:generation_id>/correct/", logs.log_correct, name="log_correct"),
    path("<slug:product_slug>/embed/", embed.embed_settings, name="embed"),
    path("<slug:product_slug>/embed/rotate-key/", embed.embed_key_rotate, name="embed_key_rotate"),
    path("<slug:product_slug>/embed/widget/", embed.embed_widget_save, name="embed_widget"),
    path("<slug:product_slug>/engine/", engine.engine_settings, name="engine"),
    path("<slug:product_slug>/engine/check/", engine.engine_check, name="engine_check"),
    path("<slug:product_slug>/engine/base-model/", engine.engine_base_model, name="engine_base_model"),
    path("<slug:product_slug>/compare/", include("products.comparisons.urls")),
]
