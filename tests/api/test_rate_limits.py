"""An API key's generation limit over real requests: atomic under concurrency, not fooled by headers."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from products.embed.limits import api_limit_message
from products.models import Generation
from tests.api.conftest import INPUTS, bearer

pytestmark = pytest.mark.django_db(transaction=True)


def _concurrently(count: int, request) -> list:
    """Run ``request(n)`` in ``count`` threads released at the same instant; their results in order."""
    start = threading.Barrier(count)
    results: list = [None] * count
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            results[n] = request(n)
        except BaseException as error:  # a thread's exception would otherwise only be printed
            failures.append(error)
        finally:
            connection.close()  # each thread's own connection, as a server closes it after each request

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return results


def test_fifty_concurrent_generate_requests_against_a_limit_of_ten_let_ten_through(
    make_team, make_key, make_product, settings, pinned_rate_window,
):
    settings.API_GENERATIONS_PER_MINUTE = 10
    team = make_team("Acme")
    product = make_product(team)
    secret = make_key(team)

    def generate(n: int):
        # A made-up X-Forwarded-For on each request changes nothing: the limit belongs to the key.
        return bearer(secret).post(f"/api/v1/products/{product.slug}/generate/", {"inputs": INPUTS, "stream": True},
                                   format="json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    responses = _concurrently(50, generate)
    # A 200 means the limit let the generation start (it is logged before the stream begins). The streams
    # are left unread, so no model runs here; tests/api/test_generate_stream.py reads them to the end.
    statuses = [response.status_code for response in responses]
    assert (statuses.count(200), statuses.count(429)) == (10, 40), statuses
    assert {r.json()["detail"] for r in responses if r.status_code == 429} == {api_limit_message(10)}
    assert Generation.objects.filter(product=product, channel="api").count() == 10
