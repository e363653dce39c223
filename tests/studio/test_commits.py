"""A generation's log rows commit without waiting for the disk; every other transaction keeps its durability."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from products.services import generation_create, generation_finish, product_create
from studio.commits import log_transaction

pytestmark = [
    pytest.mark.django_db(transaction=True),  # SET LOCAL lives and dies with a real outermost transaction
    pytest.mark.skipif(connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's"),
]


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_log_transaction_relaxes_only_its_own_outermost_transaction():
    assert synchronous_commit() == "on"
    with log_transaction():
        assert synchronous_commit() == "off"
    assert synchronous_commit() == "on"  # SET LOCAL ended with the commit: the next transaction is durable


def test_log_transaction_inside_a_callers_transaction_leaves_it_durable():
    with transaction.atomic():  # e.g. a worker's claim of a job, which must survive a server crash
        with log_transaction():
            assert synchronous_commit() == "on"
        assert synchronous_commit() == "on"


def test_generation_rows_commit_asynchronously_and_are_visible_at_once(make_team):
    team = make_team("Acme")
    owner = team.memberships.get(role="owner").user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines", name="Ads")
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        generation = generation_create(product=product, version=None, channel="api", user=None, inputs={})
        generation_finish(generation_id=generation.pk, output="Run dry.", finish_reason="stop", tokens_in=3,
                          tokens_out=2, time_to_first_token_s=0.1, duration_s=0.2)
    assert statements.count("SET LOCAL synchronous_commit TO OFF") == 2
    assert synchronous_commit() == "on"
    generation.refresh_from_db()  # read back by the same query any other connection would run
    assert (generation.status, generation.output) == ("finished", "Run dry.")
