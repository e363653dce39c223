"""The official ``openai`` Python client against /v1 of a live studio (daphne, embedded worker, real model)."""

from __future__ import annotations

import openai
import pytest

from products.api.services import api_key_revoke
from products.models import ApiKey, Generation

pytestmark = pytest.mark.model


@pytest.fixture
def studio(live_server_url, make_team, make_key, make_product):
    """A published chat-style product (a message fills its one free-text input) and a client with a team key."""
    team = make_team("Acme")
    product = make_product(team, name="Social posts", template_id="social-post", length=8)
    client = openai.OpenAI(base_url=f"{live_server_url}/v1", api_key=make_key(team), max_retries=0, timeout=120)
    return product, client, team


def test_client_streams_a_completion_from_a_product_and_it_is_logged(studio):
    product, client, _ = studio
    stream = client.chat.completions.create(
        model=product.slug, messages=[{"role": "user", "content": "Our new trail shoes keep feet dry"}],
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)

    generation = Generation.objects.get()
    first, *content, finish, usage = chunks
    assert first.choices[0].delta.role == "assistant" and first.model == product.slug
    assert content and all(chunk.choices[0].finish_reason is None for chunk in content)
    assert finish.choices[0].finish_reason in ("stop", "length") and finish.choices[0].delta.content is None
    assert usage.choices == [] and usage.usage.completion_tokens == generation.tokens_out <= 8
    assert {chunk.id for chunk in chunks} == {f"chatcmpl-{generation.pk}"}
    assert "".join(chunk.choices[0].delta.content for chunk in content) == generation.output
    assert (generation.channel, generation.status) == ("api", "finished")
    assert generation.inputs["topic"] == "Our new trail shoes keep feet dry"


def test_client_lists_models_and_gets_a_whole_completion(studio):
    product, client, _ = studio
    assert [model.id for model in client.models.list()] == [product.slug]
    assert client.models.retrieve(product.slug).owned_by == product.team.slug

    completion = client.chat.completions.create(
        model=product.slug, messages=[{"role": "system", "content": "ignored"},
                                      {"role": "user", "content": "Opening hours on Sunday"}],
        max_tokens=8, temperature=0,
    )
    generation = Generation.objects.get()
    assert completion.choices[0].message.content == generation.output and generation.output.strip()
    assert completion.usage.completion_tokens == generation.tokens_out <= 8


def test_client_errors_arrive_as_the_openai_exception_classes_with_the_studio_sentence(studio, make_key):
    product, client, team = studio
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-product", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.body["message"].startswith("The model “no-such-product” does not exist")
    with pytest.raises(openai.BadRequestError) as empty:
        client.chat.completions.create(model=product.slug, messages=[{"role": "user", "content": " "}])
    assert empty.value.body == {"message": "Send at least one user message with text.",
                                "type": "invalid_request_error", "param": "messages", "code": "invalid_request"}

    reader = openai.OpenAI(base_url=client.base_url, api_key=make_key(team, scope=ApiKey.Scope.READ), max_retries=0)
    assert [model.id for model in reader.models.list()] == [product.slug]
    with pytest.raises(openai.PermissionDeniedError):
        reader.chat.completions.create(model=product.slug, messages=[{"role": "user", "content": "hi"}])
    assert not Generation.objects.exists()


def test_revoked_key_is_refused_on_the_next_call(studio):
    product, client, _ = studio
    assert [model.id for model in client.models.list()] == [product.slug]
    api_key_revoke(api_key=ApiKey.objects.get())
    with pytest.raises(openai.AuthenticationError) as refused:
        client.models.list()
    assert refused.value.status_code == 401 and "revoked" in refused.value.body["message"]
