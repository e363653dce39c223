"""The playground's draft form refuses templates that are not plain {name} placeholders, and over-long prompts."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from products.models import Product
from products.services import product_create

pytestmark = pytest.mark.django_db

BAD_TEMPLATES = {
    "Copy for {product:x>100000000}": "The prompt has {product:x>100000000} at line 1, column 10: a format spec "
                                      "(:x>100000000) is not allowed; write {product} only.",
    "Copy for {product:zz}": "The prompt has {product:zz} at line 1, column 10: a format spec (:zz) is not allowed; "
                             "write {product} only.",
    "Copy for {product!r}": "The prompt has {product!r} at line 1, column 10: a conversion (!r) is not allowed; "
                            "write {product} only.",
    "Copy for {product.upper}": "The prompt has {product.upper} at line 1, column 10: attribute or index access "
                                "(.upper) is not allowed; write {product} only.",
    "Copy for {product[0]}": "The prompt has {product[0]} at line 1, column 10: attribute or index access ([0]) is "
                             "not allowed; write {product} only.",
    "Copy for {}": "The prompt has {} at line 1, column 10: an empty placeholder; name the input, e.g. {product}.",
    "Hello {": "The prompt has { at line 1, column 7, which is not closed. Close it with } or write {{ for a "
               "literal brace.",
    "Hello }": "The prompt has a lone } at line 1, column 7. Write }} for a literal brace.",
}


@pytest.fixture
def product(owner_client):
    return product_create(team=owner_client.team, user=owner_client.user, kind_id="copywriting",
                          template_id="ad-headlines")


def _save(client, product, **fields):
    url = reverse("draft_save", args=[client.team.slug, product.slug])
    data = {"system_prompt": product.system_prompt, "prompt_template": product.prompt_template,
            "creativity": 0.5, "length": 30, "variants": 2, **fields}
    return client.post(url, data)


def _draft(product) -> tuple:
    row = Product.objects.get(pk=product.pk)
    return row.system_prompt, row.prompt_template, row.settings, row.updated_at


@pytest.mark.parametrize("template", list(BAD_TEMPLATES))
def test_saving_a_template_that_is_not_plain_placeholders_is_refused_with_its_position(
    owner_client, product, template,
):
    before = _draft(product)
    response = _save(owner_client, product, prompt_template=template)
    assert response.status_code == 200  # the form again, with the message; not a 500
    assert escape(BAD_TEMPLATES[template]) in response.content.decode()
    assert _draft(product) == before


def test_saving_over_long_instructions_or_prompt_is_refused_and_keeps_the_draft(owner_client, product):
    before = _draft(product)
    response = _save(owner_client, product, system_prompt="Be bold. " * 500, prompt_template="{product} " * 450)
    page = response.content.decode()
    assert "The instructions are 4,499 characters; the limit is 4,000. Shorten them." in page
    assert "The prompt is 4,499 characters; the limit is 4,000. Shorten it." in page
    assert _draft(product) == before


def test_a_plain_template_with_literal_braces_is_saved(owner_client, product):
    response = _save(owner_client, product, prompt_template="Headlines for {product} as {{\"json\": true}}")
    assert response.status_code == 302
    assert Product.objects.get(pk=product.pk).prompt_template == "Headlines for {product} as {{\"json\": true}}"


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e400"])
def test_saving_a_non_finite_creativity_is_refused_and_keeps_the_draft(owner_client, product, value):
    before = _draft(product)
    response = _save(owner_client, product, creativity=value)
    assert response.status_code == 200 and "Creativity must be a number from 0 to 1.5." in response.content.decode()
    assert _draft(product) == before
