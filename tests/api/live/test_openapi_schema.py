"""Schemathesis fuzzes every operation of the published OpenAPI schema against a live studio: no server errors.

Bounded for CI: a fixed number of examples per operation, derandomised (the same requests on every
run), no shrinking. Half the cases use the real product, version and generation in the path, so the
fuzzer reaches past the 404s into validation and generation; the other half are made up entirely.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from inference.models import TrainingRun
from products.api.services import api_dataset_version_upload
from products.models import ApiKey
from products.services import generation_create
from tests.api.conftest import INPUTS
from tests.products.conftest import GOOD_CSV

EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def published(live_server_url, make_team, make_key, make_product):
    team = make_team("Acme")
    product = make_product(team)
    generation = generation_create(product=product, version=product.live_version, channel="api", user=None,
                                   inputs=INPUTS)
    secret = make_key(team)
    dataset = api_dataset_version_upload(api_key=ApiKey.objects.get(), use="qa:pairs", name="FAQ",
                                         file=SimpleUploadedFile("faq.csv", GOOD_CSV)).dataset
    run = TrainingRun.objects.create(team=team, product=product, dataset_version=dataset.versions.get(),
                                     created_by=team.memberships.get().user)
    known = {"slug": product.slug, "number": product.live_version.number, "generation_id": generation.pk,
             "model": product.slug, "dataset_id": dataset.pk, "run_id": run.pk}
    return live_server_url, secret, known


def _operations(schema) -> list:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14, [operation.label for operation in operations]
    return operations


def _cases(operation, known: dict) -> st.SearchStrategy:
    real_path = {p.name: known[p.name] for p in operation.path_parameters}
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    return st.one_of(*(operation.as_strategy(mode, path_parameters=path)
                       for mode in modes for path in ({}, real_path)))


def test_real_streamed_answers_match_their_documented_event_schemas(published):
    """The fuzzer seldom guesses inputs that generate; these two requests do, with the real model."""
    base_url, secret, known = published
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json")
    requests = {
        "products_generate": {"inputs": INPUTS, "stream": True},
        "openai_chat_completions": {"model": known["model"], "stream": True,
                                    "messages": [{"role": "user", "content": "Trail running shoes"}],
                                    "inputs": {"benefit": "dry feet"}},
    }
    for operation_id, body in requests.items():
        operation = schema.find_operation_by_id(operation_id)
        case = operation.Case(path_parameters={p.name: known[p.name] for p in operation.path_parameters},
                              body=body, media_type="application/json")
        response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=120)
        assert response.status_code == 200 and response.headers["content-type"][0].startswith("text/event-stream")
        assert b'"finish_reason"' in response.content  # streamed to the end, not an error event
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])


def test_fuzzed_requests_to_every_operation_get_no_server_error(published):
    base_url, secret, known = published
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json")
    failures: list[str] = []
    for operation in _operations(schema):

        @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                             phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(case=_cases(operation, known))
        def fuzz(case) -> None:
            response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=120)
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            fuzz()
        except (AssertionError, FailureGroup) as exc:  # collect every operation's failure, not just the first
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
