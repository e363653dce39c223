"""Benchmark the Logs tab on 1M generations: page time (p50/p95) per filter, the SQL's plans, and export memory.

Run on demand (pytest does not collect tests/benchmarks), against a PostgreSQL server it may create a database on:

    nice -n 10 .venv/bin/python tests/benchmarks/bench_logs.py                       # 1M rows
    nice -n 10 .venv/bin/python tests/benchmarks/bench_logs.py --rows 100000 --keep  # smaller; keep the database

It creates a throwaway database (``bench_logs_<pid>`` on ``BENCH_DATABASE_URL``, default the local server),
migrates it, makes one team, product and three versions with the ORM, then seeds the generations with one SQL
``INSERT … SELECT … FROM generate_series`` (90 days of them: a third per channel, 10 % 👍, 6 % 👎, 0.2 % corrected,
words from a 200-word vocabulary plus one rare word in 0.1 % of the answers, each attribute drawn
independently), plus 50k rows of another product.
Then, through Django's test client (the real view, templates and all, no network), each scenario's page is
fetched 5 times to warm up and 30 times measured; the page's main query is EXPLAINed (ANALYZE) and checked for
an index scan; finally the whole log is exported as CSV through the export view while the process's resident
memory is sampled. The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
WARM, RUNS = 5, 30
RARE = "zephyrine"


def _url_for(database: str) -> str:
    parts = urlsplit(BASE_URL)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(BASE_URL, autocommit=True) as connection:
        connection.execute(sql)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _seed(rows: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from products.services import product_create, product_version_create
    from studio.services import team_create

    owner = get_user_model().objects.create_user(username="bench@example.com", email="bench@example.com",
                                                 password="bench-password-123")
    team = team_create(name="Bench", owner=owner)
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines", name="Bench")
    versions = [product_version_create(product=product, user=owner, note=f"v{n}").pk for n in (1, 2, 3)]
    other = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines", name="Other")
    rng = random.Random(16)
    words = sorted({"".join(rng.choice("abcdefghijklmnoprstuvwy") for _ in range(rng.randint(3, 9)))
                    for _ in range(400)})[:200]
    search_index = importlib.import_module("products.migrations.0013_logs").SEARCH_INDEX
    # Each attribute from its own hash of i, so they are independent (as a real log's are): no filter
    # combination is empty or full by accident of the seed.
    insert = """
        INSERT INTO products_generation (team_id, product_id, version_id, channel, inputs, variant, output, result,
            status, finish_reason, error, tokens_in, tokens_out, time_to_first_token_ms, duration_ms, feedback,
            correction, created_at)
        SELECT %(team)s, %(product)s,
            CASE WHEN h.v %% 10 = 0 THEN NULL ELSE (%(versions)s::bigint[])[1 + h.v %% 3] END,
            (ARRAY['playground', 'widget', 'api'])[1 + h.c %% 3],
            jsonb_build_object('product', w[1 + h.a %% 200], 'benefit', w[1 + h.b %% 200], 'tone', 'bold'),
            0, t.out, jsonb_build_object('text', t.out), 'finished', 'eos', '', 20 + i %% 50, 10 + i %% 90,
            40 + h.a %% 900, 300 + h.b %% 5000,
            CASE WHEN h.f %% 100 < 10 THEN 1 WHEN h.f %% 100 < 16 THEN -1 ELSE 0 END,
            CASE WHEN h.f %% 500 = 499 THEN 'A corrected answer ' || w[1 + h.a %% 200] ELSE '' END,
            now() - make_interval(secs => (%(rows)s - i) * (90 * 86400.0 / %(rows)s))
        FROM generate_series(1, %(rows)s) AS i, (SELECT %(words)s::text[] AS w) AS vocabulary,
        LATERAL (SELECT abs(hashint4(i)) AS v, abs(hashint4(i + 7919)) AS c, abs(hashint4(i + 104729)) AS f,
                        abs(hashint4(i + 1299709)) AS a, abs(hashint4(i + 15485863)) AS b) AS h,
        LATERAL (SELECT concat_ws(' ', w[1 + abs(hashint4(i * 3)) %% 200], w[1 + abs(hashint4(i * 5)) %% 200],
                                  w[1 + abs(hashint4(i * 7)) %% 200], w[1 + abs(hashint4(i * 11)) %% 200],
                                  w[1 + abs(hashint4(i * 13)) %% 200], w[1 + abs(hashint4(i * 17)) %% 200],
                                  CASE WHEN abs(hashint4(i * 19)) %% 1000 = 7 THEN %(rare)s END) AS out) AS t
    """
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS generation_search")  # built once after the rows, much faster
        cursor.execute(insert, {"team": team.pk, "product": product.pk, "versions": versions, "rows": rows,
                                "words": words, "rare": RARE})
        cursor.execute(insert, {"team": team.pk, "product": other.pk, "versions": versions, "rows": 50_000,
                                "words": words, "rare": RARE})
        cursor.execute(search_index)
        cursor.execute("ANALYZE products_generation")
    print(f"seeded {rows:,} + 50,000 generations in {time.perf_counter() - started:.0f} s")
    return {"owner": owner, "team": team, "product": product, "common": words[5]}


def _scenarios(product, common: str, rows: int) -> list[tuple[str, dict]]:
    from datetime import timedelta

    from django.utils import timezone

    from products.models import Generation

    middle = Generation.objects.filter(product=product).order_by("-id").values_list("pk", flat=True)[rows // 2]
    day = (timezone.now() - timedelta(days=30)).date()
    return [
        ("newest, no filter", {}),
        ("channel = widget", {"channel": "widget"}),
        ("feedback = 👎", {"feedback": "down"}),
        ("corrected (0.2 %)", {"feedback": "corrected"}),
        ("version 2", {"version": "2"}),
        ("one week, 30 days ago", {"date_from": str(day), "date_to": str(day + timedelta(days=6))}),
        (f"search “{common}” (common)", {"q": common}),
        (f"search “{RARE}” (0.1 %)", {"q": RARE}),
        ("deep page (before = a middle id)", {"before": str(middle)}),
        ("api + 👍 + search", {"channel": "api", "feedback": "up", "q": common}),
    ]


def _explain(product, params: dict) -> str:
    """The plan of the page's own query (the selector the view calls), run for real."""
    from products.logs.forms import LogFilterForm
    from products.logs.selectors import generation_log_page_query

    form = LogFilterForm(params, product=product)
    form.is_valid()
    before = int(params["before"]) if params.get("before") else None
    return generation_log_page_query(product=product, filters=form.filters(), before=before).explain(
        analyze=True, buffers=True)


def _measure(client, url: str) -> list[float]:
    times = []
    for run in range(WARM + RUNS):
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (url, response.status_code)
        if run >= WARM:
            times.append(elapsed)
    return times


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[18]


def _export(client, url: str) -> dict:
    response = client.get(url)
    start_rss = peak = _rss_mb()
    size = 0
    started = time.perf_counter()
    for number, chunk in enumerate(response.streaming_content, 1):
        size += len(chunk)
        if number % 50 == 0:
            peak = max(peak, _rss_mb())
    seconds = time.perf_counter() - started
    return {"mb": size / 1e6, "seconds": seconds, "rss_start": start_rss, "rss_peak": max(peak, _rss_mb())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    args = parser.parse_args()
    database = f"bench_logs_{os.getpid()}"
    _admin(f'CREATE DATABASE "{database}"')
    print(f"database {database}")
    try:
        sys.path.insert(0, str(ROOT))
        os.environ["DATABASE_URL"] = _url_for(database)
        os.environ.pop("DEBUG", None)  # DEBUG would keep every query in memory
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.urls import reverse

        call_command("migrate", verbosity=0)
        seeded = _seed(args.rows)
        product, team = seeded["product"], seeded["team"]
        client = Client()
        client.force_login(seeded["owner"])
        page = reverse("logs", args=[team.slug, product.slug])
        print(f"\n{'scenario':<38} {'p50 ms':>8} {'p95 ms':>8}  index scan in the plan")
        plans = []
        for name, params in _scenarios(product, seeded["common"], args.rows):
            times = _measure(client, f"{page}?{urlencode(params)}" if params else page)
            plan = _explain(product, params)
            uses_index = "Index" in plan and "Seq Scan on products_generation" not in plan
            print(f"{name:<38} {statistics.median(times):>8.1f} {_p95(times):>8.1f}  {'yes' if uses_index else 'NO'}")
            plans.append((name, plan))
        for name, plan in plans:
            print(f"\n--- EXPLAIN (ANALYZE, BUFFERS): {name}\n{plan}")
        connection.close()
        export = _export(client, reverse("logs_export", args=[team.slug, product.slug]) + "?format=csv")
        print(f"\nexport CSV of {args.rows:,} rows: {export['mb']:.0f} MB in {export['seconds']:.0f} s "
              f"({args.rows / export['seconds']:,.0f} rows/s); resident memory {export['rss_start']:.0f} MB at the "
              f"start, {export['rss_peak']:.0f} MB at the peak (+{export['rss_peak'] - export['rss_start']:.0f} MB)")
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            _admin(f'DROP DATABASE IF EXISTS "{database}"')


if __name__ == "__main__":
    main()
