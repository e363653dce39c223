"""Benchmark the usage pages with 1M generations: the dashboard, a product's Usage and Releases tabs.

Run on demand against a PostgreSQL database of its own (created and filled here, not the ORM):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/studio_bench_dashboard \\
        .venv/bin/python tests/benchmarks/bench_dashboard.py [--generations 1000000] [--requests 20]

It seeds ``--generations`` Generation rows with SQL ``generate_series`` over 90 days, 10 products, 3
channels and an A/B split, then builds their UsageRollup rows in one SQL ``INSERT … SELECT … GROUP BY``
(the histogram too), checks one rollup against the Python code that writes them, and times each page
through Django's test client (p50/p95 of ``--requests`` loads). The pages read rollups only, so their
time depends on days × products, not on generations; the EXPLAIN of the rollup query is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def _bucket_sql() -> str:
    """The histogram bucket of a time in SQL: the same edges as products/releases/histogram.py."""
    from products.releases.histogram import BUCKET_EDGES_MS

    whens = " ".join(f"WHEN g.time_to_first_token_ms <= {edge} THEN {i}" for i, edge in enumerate(BUCKET_EDGES_MS))
    return f"CASE {whens} ELSE {len(BUCKET_EDGES_MS)} END"


def seed(generations: int) -> tuple:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from products.models import Generation, Release, UsageRollup
    from products.releases.histogram import BUCKETS
    from products.services import product_create, product_version_create, product_version_publish
    from studio.services import team_create

    owner = get_user_model().objects.create_user(username="bench@example.com", email="bench@example.com",
                                                 password="bench-password-1")
    team = team_create(name="Bench", owner=owner)
    products = []
    for n in range(10):
        product = product_create(team=team, user=owner, kind_id="copywriting", template_id="social-post",
                                 name=f"Product {n}")
        product_version_publish(product=product, version=product_version_create(product=product, user=owner))
        product_version_create(product=product, user=owner)
        products.append(product)
    first = products[0]
    release = Release.objects.create(team=team, product=first, candidate=first.versions.get(number=2),
                                     control=first.versions.get(number=1), share_percent=20, started_by=owner)
    versions = {p.pk: (p.versions.get(number=1).pk, p.versions.get(number=2).pk) for p in products}
    ids = ",".join(str(p.pk) for p in products)
    v1 = ",".join(str(versions[p.pk][0]) for p in products)
    v2 = ",".join(str(versions[p.pk][1]) for p in products)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Product p of 10, channel c of 3, day d of 90 back, independent of each other; on product 0 the split
        # sends one in five (k = 0) to the candidate.
        cursor.execute(f"""
            INSERT INTO products_generation (team_id, product_id, version_id, channel, inputs, variant, output,
                result, status, finish_reason, error, tokens_in, tokens_out, time_to_first_token_ms, duration_ms,
                feedback, created_at, visitor, release_id, arm)
            SELECT %s, (ARRAY[{ids}])[p + 1],
                   CASE WHEN p = 0 AND k = 0 THEN (ARRAY[{v2}])[1] ELSE (ARRAY[{v1}])[p + 1] END,
                   (ARRAY['playground','widget','api'])[c + 1], '{{}}', 0, 'Sale!', '{{"text": "Sale!"}}',
                   CASE WHEN i %% 50 = 0 THEN 'failed' ELSE 'finished' END,
                   CASE WHEN i %% 50 = 0 THEN 'error' ELSE 'eos' END, '', 10 + i %% 30, 20 + i %% 90,
                   CASE WHEN i %% 50 = 0 THEN NULL ELSE 80 + (i::bigint * 7919) %% 900 END, 900,
                   (ARRAY[1, 0, -1, 0, 1])[i %% 5 + 1], now() - d * interval '1 day', 'v' || (i %% 50000),
                   CASE WHEN p = 0 THEN %s END,
                   CASE WHEN p = 0 THEN (CASE WHEN k = 0 THEN 'candidate' ELSE 'control' END) ELSE '' END
            FROM (SELECT i, i %% 10 AS p, (i / 10) %% 3 AS c, (i / 30) %% 90 AS d, (i / 2700) %% 5 AS k
                  FROM generate_series(1, %s) AS i) AS seeds
        """, [team.pk, release.pk, generations])
        seeded = time.perf_counter() - started
        buckets = ", ".join(f"COUNT(*) FILTER (WHERE g.time_to_first_token_ms IS NOT NULL AND b = {i})"
                            for i in range(BUCKETS))
        cursor.execute(f"""
            INSERT INTO products_usagerollup (team_id, product_id, version_number, release_pk, arm, channel, day,
                generations, errors, thumbs_up, thumbs_down, corrected, clicked, purchased, tokens_in, tokens_out,
                ttft_histogram)
            SELECT g.team_id, g.product_id, v.number, COALESCE(g.release_id, 0), g.arm, g.channel,
                   (g.created_at AT TIME ZONE 'UTC')::date, COUNT(*), COUNT(*) FILTER (WHERE g.status = 'failed'),
                   COUNT(*) FILTER (WHERE g.feedback = 1), COUNT(*) FILTER (WHERE g.feedback = -1), 0, 0, 0,
                   SUM(g.tokens_in), SUM(g.tokens_out), jsonb_build_array({buckets})
            FROM (SELECT *, {_bucket_sql()} AS b FROM products_generation g) g
            JOIN products_productversion v ON v.id = g.version_id
            GROUP BY 1, 2, 3, 4, 5, 6, 7
        """)
        cursor.execute("ANALYZE products_generation; ANALYZE products_usagerollup")
    print(f"seeded {Generation.objects.count():,} generations in {seeded:.1f} s; "
          f"{UsageRollup.objects.count():,} rollup rows")
    return team, owner, first, release


def check_one_rollup(team) -> None:
    """A seeded rollup row equals what products.releases.rollups computes from its generations."""
    from products.models import Generation, UsageRollup
    from products.releases.histogram import histogram_add

    row = UsageRollup.objects.filter(team=team, release_pk__gt=0, arm="candidate").order_by("day").first()
    counts: list[int] = []
    gens = Generation.objects.filter(product_id=row.product_id, release_id=row.release_pk, arm=row.arm,
                                     channel=row.channel, created_at__date=row.day)
    for ms in gens.exclude(time_to_first_token_ms=None).values_list("time_to_first_token_ms", flat=True):
        counts = histogram_add(counts, ms)
    assert row.ttft_histogram == counts and row.generations == gens.count(), "the SQL rollup differs from Python's"
    print(f"one rollup row checked against products.releases.histogram: {row.generations} generations, same counts")


def time_pages(owner, product, release, requests: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(owner)
    team = product.team.slug
    pages = {
        "dashboard": f"/t/{team}/",
        "usage (90 days)": f"/t/{team}/products/{product.slug}/usage/?days=90",
        "usage, version 2": f"/t/{team}/products/{product.slug}/usage/?days=90&version=2",
        "releases (per-arm table)": f"/t/{team}/products/{product.slug}/releases/",
    }
    for name, url in pages.items():
        client.get(url)  # warm: templates compiled, statsmodels imported
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(url)
            times.append(1000 * (time.perf_counter() - started))
            assert response.status_code == 200, (url, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        times.sort()
        p95 = times[max(0, round(0.95 * len(times)) - 1)]
        print(f"{name:26s} p50 {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms  ({len(queries)} queries)")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN SELECT * FROM products_usagerollup WHERE team_id = %s AND day >= current_date - 89 "
                       "AND product_id = %s", [product.team_id, product.pk])
        print("EXPLAIN (usage of one product):\n  " + "\n  ".join(r[0] for r in cursor.fetchall()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("Set DATABASE_URL to a PostgreSQL database of its own (it is emptied).", file=sys.stderr)
        return 2
    import django
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    team, owner, product, release = seed(args.generations)
    check_one_rollup(team)
    time_pages(owner, product, release, args.requests)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
