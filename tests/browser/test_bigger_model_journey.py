"""A team admin registers a bigger model the operator put in the models folder and picks it for a product."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from products.models import Product, RegisteredModel
from products.services import product_create
from tests.model_folder import TINY_GGUF, make_models_folder

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def operator_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("operator")
    return make_models_folder(root, root / "outside")


@pytest.fixture(scope="module")
def live_studio_env(operator_models) -> dict[str, str]:
    return {"MODELS_DIR": str(operator_models)}


def test_admin_registers_a_model_from_the_folder_and_picks_it_as_the_base_model(
    logged_in_page, live_server_url, make_team, operator_models, settings,
):
    settings.MODELS_DIR = operator_models
    team = make_team("Trail Shop")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines")
    page = logged_in_page(owner)

    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/engine/")
    expect(page.get_by_test_id("base-model")).to_have_text("SmolLM2 135M Instruct (bundled)")
    page.get_by_role("link", name="Register a bigger model").click()
    expect(page.get_by_text("No models registered yet")).to_be_visible()
    row = page.get_by_role("row", name=TINY_GGUF)
    expect(row).to_contain_text("GGUF (llama.cpp) · llama · 135M parameters")
    expect(row).to_contain_text("tokens/s per CPU thread with llama.cpp (estimate)")
    expect(row).to_contain_text("Licence: general.license: apache-2.0")
    expect(page.get_by_role("row", name="linked.gguf")).to_have_count(0)  # a link out of the folder is not offered

    row.get_by_role("button", name=f"Register {TINY_GGUF}").click()
    expect(page.get_by_text(f"“{TINY_GGUF}” is registered: pick it as the base model on a product's Engine tab."))\
        .to_be_visible()
    assert RegisteredModel.objects.get().team == team

    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/engine/")
    page.get_by_role("combobox", name="Base model").select_option(label=f"{TINY_GGUF} (GGUF (llama.cpp))")
    page.get_by_role("button", name="Use this model").click()
    expect(page.get_by_test_id("base-model")).to_have_text(f"{TINY_GGUF} (GGUF (llama.cpp))")
    assert Product.objects.get(pk=product.pk).base_model == f"local:{TINY_GGUF}"

    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/fine-tune/")
    expect(page.get_by_test_id("fine-tuning-model")).to_contain_text(
        f"{TINY_GGUF} is a GGUF model: it serves with llama.cpp but cannot be fine-tuned.")
