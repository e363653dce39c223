"""OpenAI-compatible endpoints, mounted at /v1/ (an OpenAI client's base_url is https://<studio>/v1)."""

from __future__ import annotations

from django.urls import path

from products.api.views.openai import ChatCompletionApi, ModelDetailApi, ModelListApi

urlpatterns = [
    path("chat/completions", ChatCompletionApi.as_view(), name="openai_chat_completions"),
    path("models", ModelListApi.as_view(), name="openai_models"),
    path("models/<str:model>", ModelDetailApi.as_view(), name="openai_model"),
]
