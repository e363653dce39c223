"""A generation's log rows commit without waiting for the disk; every other transaction keeps its durability."""

from __future__ import annotations

import pytest
from django.db import connection, connections, transaction

from products.models import Generation, UsageRollup
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
    server_default = synchronous_commit()
    assert server_default != "off"
    with log_transaction():
        assert synchronous_commit() == "off"
    assert synchronous_commit() == server_default  # SET LOCAL ended with the commit: the next one is durable


def test_log_transaction_inside_a_callers_transaction_leaves_it_durable():
    server_default = synchronous_commit()
    with transaction.atomic():  # e.g. a worker's claim of a job, which must survive a server crash
        with log_transaction():
            assert synchronous_commit() == server_default
        assert synchronous_commit() == server_default


def test_an_error_inside_a_log_transaction_rolls_it_back_and_leaves_the_next_transaction_durable(make_team):
    team = make_team("Acme")
    product = product_create(team=team, user=team.memberships.get(role="owner").user, kind_id="copywriting",
                             template_id="ad-headlines", name="Ads")
    server_default = synchronous_commit()
    with pytest.raises(RuntimeError), log_transaction():
        Generation.objects.create(team=team, product=product, channel="api", inputs={})
        raise RuntimeError("the worker lost its lease")
    assert not Generation.objects.exists()
    assert synchronous_commit() == server_default


def test_generation_rows_commit_asynchronously_and_another_connection_reads_them_at_once(make_team):
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
    other = connections.create_connection("default")  # a second session, as the web tier reading the log
    try:
        with other.cursor() as cursor:
            cursor.execute(f"SELECT status, output FROM {Generation._meta.db_table} WHERE id = %s", [generation.pk])
            assert cursor.fetchone() == ("finished", "Run dry.")
    finally:
        other.close()
    assert UsageRollup.objects.get(product=product, channel="api").generations == 1
