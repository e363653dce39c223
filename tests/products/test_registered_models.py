"""Bringing a bigger model: the Models page lists only what is inside the operator's models folder, admins
register one for their team (never a path, a link out of the folder or pickle weights), and the Engine tab
picks it as a draft's base model, for that team only. Serving it is tests/inference/test_registered_models.py."""

from __future__ import annotations

import pytest

from products.models import Product, RegisteredModel
from products.services import product_create, product_version_create, product_version_publish
from studio.roles import Role
from tests.model_folder import LICENCE, TINY_GGUF, TINY_HF, make_models_folder

pytestmark = pytest.mark.django_db


@pytest.fixture
def models_folder(tmp_path, settings):
    settings.MODELS_DIR = make_models_folder(tmp_path, tmp_path / "outside")
    return settings.MODELS_DIR


@pytest.fixture
def product(owner_client) -> Product:
    return product_create(team=owner_client.team, user=owner_client.user, kind_id="copywriting",
                          template_id="ad-headlines")


def _models_url(team) -> str:
    return f"/t/{team.slug}/models/"


def _register(client, team, name: str):
    return client.post(f"/t/{team.slug}/models/register/", {"name": name})


def _use(client, product: Product, base_model: str):
    return client.post(f"/t/{product.team.slug}/products/{product.slug}/engine/base-model/", {"base_model": base_model})


def test_the_models_page_lists_only_models_inside_the_folder_with_size_speed_and_licence(owner_client, models_folder):
    page = owner_client.get(_models_url(owner_client.team)).content.decode()

    assert TINY_GGUF in page and TINY_HF in page
    for refused in ("linked.gguf", "sneaky", "pickled", "notes.txt", "secret.gguf"):
        assert refused not in page
    assert "GGUF (llama.cpp) · llama · 135M parameters" in page  # read from the GGUF header
    assert "Hugging Face folder (torch) · llama · 300,500 parameters" in page
    assert "93.8\xa0MB" in page  # filesizeformat (a no-break space) of the GGUF's 98,362,432 bytes
    assert "about 30 tokens/s per CPU thread with llama.cpp (estimate)" in page
    assert f"Licence: LICENSE: {LICENCE}" in page and "Licence: general.license: apache-2.0" in page
    assert 'name="name" value="tiny-chat.gguf"' in page


@pytest.mark.parametrize(("name", "words"), [
    ("../outside/secret.gguf", "is not a name in the models folder"),
    ("/etc/passwd", "is not a name in the models folder"),
    ("linked.gguf", "is a symbolic link; the studio only loads files that are really inside the models folder"),
    ("sneaky", "holds symbolic links (model.safetensors)"),
    ("pickled", "has only pickle weights (pytorch_model.bin), which can run code when loaded"),
    ("notes.txt", "is not a model: the studio loads .gguf files or Hugging Face folders"),
    ("missing.gguf", "There is no “missing.gguf” in the models folder"),
    ("smollm2-135m-instruct", "is a bundled model; every team has it already"),
])
def test_registering_anything_but_a_model_inside_the_folder_is_refused_in_words(owner_client, models_folder,
                                                                                name, words):
    response = _register(owner_client, owner_client.team, name)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not RegisteredModel.objects.exists()


def test_an_admin_registers_a_gguf_and_picks_it_per_version_and_fine_tuning_says_it_only_serves(
    owner_client, models_folder, product,
):
    response = _register(owner_client, owner_client.team, TINY_GGUF)
    assert response.status_code == 302
    model = RegisteredModel.objects.get()
    assert (model.team, model.format, model.size_bytes, model.parameters) == (
        owner_client.team, "gguf", 98362432, 134515008)
    assert model.registered_by == owner_client.user

    engine = owner_client.get(f"/t/{product.team.slug}/products/{product.slug}/engine/").content.decode()
    assert '<option value="local:tiny-chat.gguf">tiny-chat.gguf (GGUF (llama.cpp))</option>' in engine
    assert _use(owner_client, product, "local:tiny-chat.gguf").status_code == 302
    product.refresh_from_db()
    assert product.base_model == "local:tiny-chat.gguf"
    version = product_version_create(product=product, user=owner_client.user)
    assert version.base_model == "local:tiny-chat.gguf"
    product_version_publish(product=product, version=version)
    engine = owner_client.get(f"/t/{product.team.slug}/products/{product.slug}/engine/").content.decode()
    assert "The live version 1 runs on this studio, with tiny-chat.gguf (GGUF (llama.cpp))." in engine

    tune = owner_client.get(f"/t/{product.team.slug}/products/{product.slug}/fine-tune/").content.decode()
    assert "tiny-chat.gguf is a GGUF model: it serves with llama.cpp but cannot be fine-tuned." in tune


def test_a_registered_hugging_face_folder_is_one_fine_tuning_can_train(owner_client, models_folder, product):
    _register(owner_client, owner_client.team, TINY_HF)
    _use(owner_client, product, "local:tiny-hf")
    tune = owner_client.get(f"/t/{product.team.slug}/products/{product.slug}/fine-tune/").content.decode()
    assert "Fine-tuning trains tiny-hf (a Hugging Face folder) with torch." in tune


def test_registering_twice_is_refused(owner_client, models_folder):
    _register(owner_client, owner_client.team, TINY_GGUF)
    response = _register(owner_client, owner_client.team, TINY_GGUF)
    assert response.status_code == 400 and "is registered for this team already" in response.content.decode()
    assert RegisteredModel.objects.count() == 1


def test_another_team_cannot_see_the_page_nor_use_the_registration_of_the_first(
    owner_client, models_folder, product, client, make_team,
):
    _register(owner_client, owner_client.team, TINY_GGUF)
    other = make_team("Globex")
    other_owner = other.memberships.get().user
    theirs = product_create(team=other, user=other_owner, kind_id="copywriting", template_id="ad-headlines")
    owner_client.force_login(other_owner)

    assert owner_client.get(_models_url(product.team)).status_code == 404
    assert _register(owner_client, product.team, TINY_HF).status_code == 404
    assert _use(owner_client, product, "smollm2-135m-instruct").status_code == 404
    # Their own page shows the operator's folder, but the model is not registered for them …
    page = owner_client.get(_models_url(other)).content.decode()
    assert "No models registered yet" in page and 'value="tiny-chat.gguf"' in page
    # … so their versions cannot pick it.
    response = _use(owner_client, theirs, "local:tiny-chat.gguf")
    assert response.status_code == 400
    assert "Pick one of the models listed; admins register others on the Models page." in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.base_model == "smollm2-135m-instruct"


def test_editors_see_the_models_but_only_admins_register_or_pick_them(owner_client, models_folder, product,
                                                                       make_member):
    editor = make_member(owner_client.team, Role.EDITOR).user
    owner_client.force_login(editor)
    page = owner_client.get(_models_url(owner_client.team)).content.decode()
    assert TINY_GGUF in page and "A team admin registers models." in page
    assert _register(owner_client, owner_client.team, TINY_GGUF).status_code == 403
    assert _use(owner_client, product, "smollm2-135m-instruct").status_code == 403
    assert not RegisteredModel.objects.exists()


def _unregister(client, model: RegisteredModel):
    return client.post(f"/t/{model.team.slug}/models/{model.pk}/unregister/")


def test_an_admin_unregisters_an_unused_model_and_its_files_stay_in_the_folder(owner_client, models_folder):
    _register(owner_client, owner_client.team, TINY_GGUF)
    model = RegisteredModel.objects.get()

    response = _unregister(owner_client, model)

    assert response.status_code == 302
    assert not RegisteredModel.objects.exists()
    page = owner_client.get(_models_url(owner_client.team)).content.decode()
    assert "“tiny-chat.gguf” is unregistered: this team&#x27;s products can no longer pick it." in page
    assert "No models registered yet" in page and 'value="tiny-chat.gguf"' in page  # registrable again
    assert (models_folder / TINY_GGUF).is_file()


def test_unregistering_is_refused_while_a_draft_or_a_live_version_writes_with_it_naming_them(
    owner_client, models_folder, product,
):
    _register(owner_client, owner_client.team, TINY_GGUF)
    model = RegisteredModel.objects.get()
    _use(owner_client, product, "local:tiny-chat.gguf")
    product.refresh_from_db()
    product_version_publish(product=product, version=product_version_create(product=product, user=owner_client.user))
    _use(owner_client, product, "smollm2-135m-instruct")  # the draft moved on; v1, live, still writes with it
    other = product_create(team=product.team, user=owner_client.user, kind_id="copywriting",
                           template_id="ad-headlines", name="Other")
    _use(owner_client, other, "local:tiny-chat.gguf")

    response = _unregister(owner_client, model)

    assert response.status_code == 400
    assert (f"“tiny-chat.gguf” is still in use by the draft of “Other”, “{product.name}” v1 (live). Pick another "
            "base model on their Engine tab (and publish it) first, then unregister it.") in response.content.decode()
    assert RegisteredModel.objects.filter(pk=model.pk).exists()


def test_an_a_b_candidate_on_the_model_also_keeps_it_registered(owner_client, models_folder, product):
    from products.releases.services import release_start

    _register(owner_client, owner_client.team, TINY_GGUF)
    model = RegisteredModel.objects.get()
    product_version_publish(product=product, version=product_version_create(product=product, user=owner_client.user))
    _use(owner_client, product, "local:tiny-chat.gguf")
    product.refresh_from_db()
    candidate = product_version_create(product=product, user=owner_client.user)
    _use(owner_client, product, "smollm2-135m-instruct")
    release_start(product=product, candidate=candidate, share_percent=10, user=owner_client.user)

    response = _unregister(owner_client, model)

    assert response.status_code == 400
    assert f"is still in use by “{product.name}” v2 (in an A/B split)." in response.content.decode()
    assert RegisteredModel.objects.filter(pk=model.pk).exists()


def test_an_older_version_on_an_unregistered_model_is_refused_in_words_instead_of_answering(
    owner_client, models_folder, product,
):
    from products.generation import Actor, GenerationRefused, generation_start
    from products.models import Generation

    _register(owner_client, owner_client.team, TINY_GGUF)
    _use(owner_client, product, "local:tiny-chat.gguf")
    product.refresh_from_db()
    old = product_version_create(product=product, user=owner_client.user)
    _use(owner_client, product, "smollm2-135m-instruct")
    product.refresh_from_db()
    product_version_publish(product=product, version=product_version_create(product=product, user=owner_client.user))
    assert _unregister(owner_client, RegisteredModel.objects.get()).status_code == 302

    with pytest.raises(GenerationRefused) as refused:
        generation_start(product=product, version=old.number, channel=Generation.Channel.API,
                         actor=Actor(user=owner_client.user), inputs={"product": "A bakery"})

    assert refused.value.code == "model_unregistered"
    assert refused.value.message == (
        "This version writes with tiny-chat.gguf, which is no longer registered for this team: a team admin "
        "registers it again on the Models page, or publish a version on another model.")
    assert not Generation.objects.exists()


def test_another_team_gets_404_and_a_viewer_or_editor_is_refused_unregistering(
    owner_client, models_folder, make_team, make_member,
):
    _register(owner_client, owner_client.team, TINY_GGUF)
    model = RegisteredModel.objects.get()
    other_owner = make_team("Globex").memberships.get().user
    owner_client.force_login(other_owner)
    assert _unregister(owner_client, model).status_code == 404
    for role in (Role.VIEWER, Role.EDITOR):
        owner_client.force_login(make_member(owner_client.team, role).user)
        page = owner_client.get(_models_url(model.team)).content.decode()
        assert "Unregister tiny-chat.gguf" not in page
        response = _unregister(owner_client, model)
        assert response.status_code == 403
        assert "Only team admins unregister models. Ask a team admin." in response.content.decode()
    assert RegisteredModel.objects.filter(pk=model.pk).exists()
