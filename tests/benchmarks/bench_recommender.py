"""Recommender benchmarks (a script, not a test: it prints figures and asserts nothing timed).

    .venv/bin/python tests/benchmarks/bench_recommender.py quality [--data goodbooks] [--seeds 5]
    .venv/bin/python tests/benchmarks/bench_recommender.py speed [--items 100000] [--interactions 1000000]
    .venv/bin/python tests/benchmarks/bench_recommender.py speed --serving-only --against /tmp/old-checkout
    .venv/bin/python tests/benchmarks/bench_recommender.py api [--items 100000] [--requests 300] [--redis URL]

1. quality: NDCG@10 and recall@10 on a time-ordered hold-out, with ALS's settings, the hybrid's weight, recency
   and item-item share chosen on a validation slice carved out before the hold-out, exactly as the training worker does
   (inference/training/recommender/: the same split, fits, choices and report): the hybrid against
   popularity, content similarity alone, the studio's ALS alone and plain implicit ALS with its default
   settings (factors 100, regularization 0.01, alpha 1, 15 iterations, on the same training matrix); then
   cold users (training history cut to their latest 1 or 2 interactions). ``--seeds`` averages over ALS
   seeds (min-max shown): a few hundred users make single figures noisy.
   ``--data goodbooks`` (the public benchmark): the goodbooks-10k sample in tests/benchmarks/data/goodbooks
   (CC BY-SA 4.0; README there: the first 10,259 ratings of the time-sorted ratings.csv, of which the 4,662
   of books 1-519 have a title; 256 users), each user's last 10 held out (users with 20 or more: 106).
   ``--data shop`` (default): the studio's own generated sample, products/datasets/samples/shop_catalog.csv +
   shop_interactions.csv (63 items, 1,120 purchases, 140 customers) with the worker's own hold-out
   (min(10, a quarter) per user): it shows the pipeline works; it is not a public benchmark.
2. speed: synthetic data (random users with a few "tastes" over a catalog): the time of one ALS fit and
   of a whole training (three fits and the evaluation), peak RSS, and the latency of top-10 with
   reasons for one user (the rank runner's own ``Recommender.recommend``), p50 and p95 over 300 users,
   plus sessions of 5 viewed items and users under business rules (1,000 left out, 50 boosted, 5 pinned).
   Item embeddings are random unit vectors here: embedding 100k item
   texts with MiniLM takes ~7 minutes on two cores and changes nothing in the serving cost.
   Next to each figure: one pass of a profile over the item embeddings alone (``embeddings @ p``: 100k × 384
   float32 is 150 MB read per request), and over the int8 copy a catalog of 20k items or more is served from
   (38 MB; the model.py docstring of ``QuantizedEmbeddings``). With ``--against`` a
   checkout of an older commit (``git worktree add /tmp/old <commit>``), its ``Recommender`` serves the same
   arrays interleaved query by query with this one (so background load hits both alike), the answers are
   compared (same items, reasons and scores to the 3 decimals shown) and the ratio of the p50s printed.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as implicit recommends; the worker pins it too

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
SAMPLES = REPO_ROOT / "products" / "datasets" / "samples"
GOODBOOKS = REPO_ROOT / "tests" / "benchmarks" / "data" / "goodbooks"


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()


def sample_data():
    from products.recommendations.data import CatalogItem, Interaction, RecommenderData

    with (SAMPLES / "shop_catalog.csv").open(newline="") as handle:
        items = [CatalogItem(row["sku"], row["name"], row["description"], row["category"], row["image_url"],
                             row["url"]) for row in csv.DictReader(handle)]
    with (SAMPLES / "shop_interactions.csv").open(newline="") as handle:
        rows = [Interaction(row["customer_id"], row["sku"], float(row["rating"]), row["timestamp"], line)
                for line, row in enumerate(csv.DictReader(handle), start=2)]
    return RecommenderData(items, rows)


def goodbooks_data():
    """The goodbooks-10k sample (tests/benchmarks/data/goodbooks/README.md): books 1–519 as the catalog (title;
    authors and year as the text MiniLM reads), the ratings in file order, which is goodbooks' time order, with
    no time column, as a shop would upload them; ratings of books not in the catalog are left out, as the
    studio leaves out interactions naming unknown items."""
    from products.recommendations.data import CatalogItem, Interaction, RecommenderData

    with (GOODBOOKS / "books_sample.csv").open(newline="", encoding="utf-8") as handle:
        items = [CatalogItem(row["book_id"], row["title"],
                             f"by {row['authors']}" + (f", {row['original_publication_year']}"
                                                       if row["original_publication_year"] else ""))
                 for row in csv.DictReader(handle)]
    known = {item.id for item in items}
    with (GOODBOOKS / "ratings_sample.csv").open(newline="") as handle:
        rows = [Interaction(row["user_id"], row["book_id"], float(row["rating"]), "", line)
                for line, row in enumerate(csv.DictReader(handle), start=2) if row["book_id"] in known]
    return RecommenderData(items, rows)


def train_and_report(data, embeddings, *, settings=None, last=None):
    """What the worker does for a run, without the database: (final Recommender, report metrics, seconds).

    ``last``: hold out exactly each user's ``last`` latest interactions (users with twice as many) instead of the
    worker's min(10, a quarter); the validation slice is carved from what is left exactly as the worker does."""
    import numpy as np

    from inference.training.recommender import evaluation
    from inference.training.recommender.model import AlsSettings, Recommender, fit_als, fit_neighbours
    from inference.training.recommender.pipeline import Arrays, _report

    started = time.perf_counter()
    arrays = Arrays(data)
    als = settings or AlsSettings()
    split = evaluation.holdout_split(arrays.users, arrays.items, arrays.order, last=last)
    validation = evaluation.holdout_split(arrays.users, arrays.items, arrays.order, keep=split.train)
    meta = [{"title": i.title, "category": i.category, "image": i.image, "link": i.link} for i in data.items]

    def model(positions, weight, settings=None, blend=None):
        matrix = arrays.matrix(positions)
        fitted = fit_als(matrix, settings or als)
        return Recommender(item_ids=arrays.item_ids, user_ids=arrays.user_ids, item_factors=fitted.item_factors,
                           user_factors=fitted.user_factors, embeddings=embeddings,
                           popularity=arrays.popularity(positions), history=matrix, items=meta, weight=weight,
                           settings=settings or als, recency=blend.recency if blend else 1.0,
                           history_age=arrays.ages(positions, matrix),
                           neighbours=fit_neighbours(matrix) if blend else None,
                           neighbour_share=blend.neighbour_share if blend else 0.0)

    # ALS's settings, then the hybrid's weight, recency and item-item share, chosen on the validation slice (as
    # the worker does).
    als, grid = evaluation.choose_settings(lambda settings: model(validation.train, 0.5, settings), als,
                                           validation.held_out, interactions=len(arrays.users))
    blend = evaluation.choose_blend(model(validation.train, 0.5, blend=evaluation.Blend()), validation.held_out)
    metrics = _report(model(split.train, blend.weight, blend=blend), split, arrays)
    final = model(np.arange(len(arrays.users)), blend.weight, blend=blend)
    return final, metrics | {"weight": blend.weight, "weights": blend.weights, "settings": als, "settings_grid": grid,
                             "recency": blend.recency, "neighbour_share": blend.neighbour_share,
                             "blends": blend.tried}, \
        time.perf_counter() - started, (arrays, split)


def quality(source: str = "shop", seeds: int = 1) -> None:
    setup_django()
    import numpy as np

    from inference.knowledge.embedder import embed
    from inference.training.recommender import evaluation
    from inference.training.recommender.model import AlsSettings, Recommender, fit_als
    from inference.training.recommender.pipeline import _truncated
    from products.recommendations.data import item_text
    from products.training.hyperparameters import recommender_defaults_for

    data = goodbooks_data() if source == "goodbooks" else sample_data()
    last = 10 if source == "goodbooks" else None
    embeddings = embed([item_text(item) for item in data.items], threads=1)
    runs = []
    for seed in range(42, 42 + seeds):
        # The settings the worker would choose for this many interactions (pipeline.als_settings of the defaults).
        defaults = recommender_defaults_for(train_examples=len(data.interactions), device="cpu")
        studio = AlsSettings(iterations=defaults.epochs, seed=seed, factors=defaults.lora_rank)
        _, metrics, seconds, (arrays, split) = train_and_report(data, embeddings, settings=studio, last=last)
        # Plain implicit ALS, its default settings (factors 100, regularization 0.01, alpha 1, 15 iterations),
        # on the same training matrix.
        plain_settings = AlsSettings(factors=100, regularization=0.01, alpha=1.0, iterations=15, seed=seed)
        matrix = arrays.matrix(split.train)
        fitted = fit_als(matrix, plain_settings)
        plain = Recommender(item_ids=arrays.item_ids, user_ids=arrays.user_ids, item_factors=fitted.item_factors,
                            user_factors=fitted.user_factors, embeddings=embeddings,
                            popularity=np.zeros(len(arrays.item_ids), np.float32), history=matrix, items=[],
                            weight=1.0, settings=plain_settings)
        methods = dict(metrics["methods"])
        methods["plain"] = evaluation.summary(evaluation.score_methods(plain, split.held_out, methods=("als",)),
                                              items=len(arrays.item_ids))["als"] | {
            "name": "implicit ALS, default settings"}
        # Cold users: the held-out users with only their latest 1 or 2 training interactions, served as the
        # rank runner serves a short history (similar items + popularity), against popularity.
        cold = {}
        trained = _model_for_cold(data, embeddings, arrays, split, metrics["settings"], metrics["weight"])
        for keep in (1, 2):
            scored = evaluation.score_methods(trained, split.held_out, methods=("short", "popularity"),
                                              histories=_truncated(arrays, split.train, keep))
            cold[keep] = evaluation.summary(scored, items=len(arrays.item_ids))
        runs.append({"methods": methods, "cold": cold, "weight": metrics["weight"], "weights": metrics["weights"],
                     "recency": metrics["recency"], "neighbour_share": metrics["neighbour_share"],
                     "blends": metrics["blends"],
                     "seconds": seconds, "settings": metrics["settings"], "run_settings": studio,
                     "metrics": metrics})
    first = runs[0]["metrics"]
    name = ("goodbooks-10k sample (tests/benchmarks/data/goodbooks, CC BY-SA 4.0: the first 10,259 ratings of the "
            "time-sorted ratings.csv, books 1-519)") if source == "goodbooks" else (
        "the studio's own shipped sample (NOT a public benchmark)")
    held = "each one's last 10, users with 20 or more" if last else "the worker's split"
    print(f"Data: {name}: {len(data.items)} items, {len(data.interactions)} interactions, "
          f"{len(arrays.user_ids)} users; hold-out: {first['held_out_interactions']} interactions of "
          f"{first['held_out_users']} users ({held}); training: {first['train_interactions']} interactions.")
    base = runs[0]["run_settings"]
    print(f"The run's ALS settings (the worker's defaults for this size): factors {base.factors}, regularization "
          f"{base.regularization}, alpha {base.alpha}, iterations {base.iterations}; seeds 42-{41 + seeds}")
    for run in runs:
        chosen = run["settings"]
        tried = ", ".join(f"{r['weight']}: {r['ndcg']:.3f}" for r in run["weights"])
        searched = (f"ALS settings chosen on the validation slice ({len(run['metrics']['settings_grid'])} tried): "
                    f"factors {chosen.factors}, regularization {chosen.regularization}, alpha {chosen.alpha}; "
                    if run["metrics"]["settings_grid"] else "no settings search; ")
        blends = ", ".join(f"{r['recency']}/{r['neighbour_share']}: {r['ndcg']:.3f}" for r in run["blends"])
        print(f"  seed {chosen.seed}: {searched}hybrid weight {run['weight']} "
              f"(validation NDCG@10 by weight: {tried}); recency {run['recency']}, item-item share "
              f"{run['neighbour_share']} (best validation NDCG@10 by recency/share: {blends})")

    def stat(key, metric):
        values = [run["methods"][key][metric] for run in runs]
        return float(np.mean(values)), min(values), max(values)

    print(f"{'method':40} {'NDCG@10':>8} {'(min-max)':>13} {'recall@10':>10} {'coverage':>9}")
    for key in ("hybrid", "als", "content", "popularity", "plain"):
        ndcg, low, high = stat(key, "ndcg_at_10")
        recall = stat(key, "recall_at_10")[0]
        coverage = stat(key, "coverage")[0]
        print(f"{runs[0]['methods'][key]['name']:40} {ndcg:8.3f} {f'{low:.3f}-{high:.3f}':>13} {recall:10.3f} "
              f"{coverage:9.2f}")
    hybrid, popular, plain = stat("hybrid", "ndcg_at_10")[0], stat("popularity", "ndcg_at_10")[0], stat(
        "plain", "ndcg_at_10")[0]
    wins = sum(run["methods"]["hybrid"]["ndcg_at_10"] >= run["methods"]["plain"]["ndcg_at_10"] for run in runs)
    print(f"Hybrid NDCG@10 / popularity: {hybrid / popular:.2f}x (target >= 1.6); / default ALS: {hybrid / plain:.2f}x "
          f"(target >= 1; hybrid >= default ALS in {wins} of {len(runs)} seeds)")
    for keep in (1, 2):
        served = float(np.mean([run["cold"][keep]["short"]["ndcg_at_10"] for run in runs]))
        pop = float(np.mean([run["cold"][keep]["popularity"]["ndcg_at_10"] for run in runs]))
        recall = float(np.mean([run["cold"][keep]["short"]["recall_at_10"] for run in runs]))
        pop_recall = float(np.mean([run["cold"][keep]["popularity"]["recall_at_10"] for run in runs]))
        print(f"Cold users (latest {keep} training interaction{'s' if keep > 1 else ''} only): NDCG@10 {served:.3f} "
              f"served (similar items + popularity) vs {pop:.3f} popularity; recall@10 {recall:.3f} vs "
              f"{pop_recall:.3f}")
    print(f"Training (3 ALS fits + evaluation, embeddings excluded): {np.mean([r['seconds'] for r in runs]):.1f} s "
          "per seed")


def _model_for_cold(data, embeddings, arrays, split, settings, weight):
    """The evaluation fit's model (trained without the hold-out), for scoring truncated histories."""
    from inference.training.recommender.model import Recommender, fit_als

    matrix = arrays.matrix(split.train)
    fitted = fit_als(matrix, settings)
    popularity = arrays.popularity(split.train)  # as the worker's evaluation fit counts it
    return Recommender(item_ids=arrays.item_ids, user_ids=arrays.user_ids, item_factors=fitted.item_factors,
                       user_factors=fitted.user_factors, embeddings=embeddings, popularity=popularity,
                       history=matrix, items=[{"title": i.title} for i in data.items], weight=weight,
                       settings=settings)


def synthetic(items: int, interactions: int, seed: int = 7):
    import numpy as np

    from products.recommendations.data import CatalogItem, Interaction, RecommenderData

    rng = np.random.default_rng(seed)
    users = max(interactions // 20, 10)
    tastes = 200
    taste_of_item = rng.integers(0, tastes, size=items)
    by_taste = [np.flatnonzero(taste_of_item == t) for t in range(tastes)]
    user_tastes = rng.integers(0, tastes, size=(users, 3))
    who = rng.integers(0, users, size=interactions)
    pick = user_tastes[who, rng.integers(0, 3, size=interactions)]
    # Within a taste, a Zipf-like popularity.
    what = np.array([by_taste[t][min(int(rng.zipf(1.3)) - 1, len(by_taste[t]) - 1)] if len(by_taste[t]) else 0
                     for t in pick])
    catalog = [CatalogItem(f"i{i}", f"Item {i}", "") for i in range(items)]
    rows = [Interaction(f"u{u}", f"i{i}", 1.0, str(n), n + 2) for n, (u, i) in enumerate(zip(who, what, strict=True))]
    embeddings = rng.standard_normal((items, 384)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    return RecommenderData(catalog, rows), embeddings


def baseline_class(checkout: Path):
    """The ``Recommender`` class of an older checkout's inference/training/recommender/model.py."""
    import importlib.util

    path = checkout / "inference" / "training" / "recommender" / "model.py"
    spec = importlib.util.spec_from_file_location("baseline_recommender_model", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[max(int(0.95 * len(times)) - 1, 0)]


def speed(items: int, interactions: int, *, serving_only: bool = False, against: Path | None = None,
          new_catalog_figures: bool = True) -> None:
    setup_django()
    import numpy as np

    from inference.training.recommender.model import (
        AlsSettings,
        Recommender,
        fit_als,
        fit_neighbours,
        pin_blas_threads,
    )
    from inference.training.recommender.pipeline import Arrays

    pin_blas_threads()  # as the rank runner does when it loads an artifact

    started = time.perf_counter()
    data, embeddings = synthetic(items, interactions)
    print(f"Synthetic data: {items:,} items, {len(data.interactions):,} interactions, "
          f"{len({r.user for r in data.interactions}):,} users (made in {time.perf_counter() - started:.1f} s)")
    arrays = Arrays(data)
    als = AlsSettings(factors=64)
    fit_started = time.perf_counter()
    matrix = arrays.matrix(np.arange(len(arrays.users)))
    fitted = fit_als(matrix, als)
    print(f"One ALS fit (64 factors, 15 iterations, one thread): {time.perf_counter() - fit_started:.1f} s")
    if serving_only:
        model = Recommender(item_ids=arrays.item_ids, user_ids=arrays.user_ids, item_factors=fitted.item_factors,
                            user_factors=fitted.user_factors, embeddings=embeddings,
                            popularity=np.bincount(arrays.items, minlength=items).astype(np.float32),
                            history=matrix, items=[{"title": i.title} for i in data.items], weight=0.5, settings=als,
                            # what a trained model serves with when validation chose them (README: the shop sample's)
                            recency=0.7, history_age=arrays.ages(np.arange(len(arrays.users)), matrix),
                            neighbours=fit_neighbours(matrix), neighbour_share=0.5)
    else:
        model, metrics, seconds, _ = train_and_report(data, embeddings, settings=als)
        print(f"Whole training (3 fits + evaluation on {metrics['held_out_users']:,} held-out users): "
              f"{seconds:.1f} s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Peak RSS of this process: {rss:,.0f} MiB")
    rng = np.random.default_rng(1)
    users = rng.choice(len(model.user_ids), size=300, replace=False)
    model.recommend({"user": model.user_ids[int(users[0])]}, k=10)  # first call builds YtY and norms
    old = None
    if against is not None:
        module = baseline_class(against)
        old = module.Recommender(item_ids=model.item_ids, user_ids=model.user_ids, item_factors=model.item_factors,
                                 user_factors=model.user_factors, embeddings=model.embeddings,
                                 popularity=model.popularity, history=model.history, items=model.items,
                                 weight=model.weight, settings=module.AlsSettings(**model.settings.__dict__),
                                 recency=model.recency, history_age=model.history_age, neighbours=model.neighbours,
                                 neighbour_share=model.neighbour_share)
        old.recommend({"user": model.user_ids[int(users[0])]}, k=10)
    # A version's business rules as the rank runner passes them: 1,000 items left out, 50 boosted, 5 pinned.
    picked = [model.item_ids[int(i)] for i in rng.choice(items, 1_055, replace=False)]
    rule_ids = {"exclude_ids": picked[:1_000], "boost_ids": picked[1_000:1_050], "pin_ids": picked[1_050:]}
    profile = model.embeddings[:5].mean(axis=0)
    for name, queries, ruled in (
        ("user", [{"user": model.user_ids[int(u)]} for u in users], None),
        ("session of 5 items", [{"items": [model.item_ids[int(i)] for i in rng.choice(items, 5)]}
                                for _ in range(300)], None),
        ("user with business rules", [{"user": model.user_ids[int(u)]} for u in users], rule_ids),
    ):
        times, old_times, floor, int8_floor, differ = [], [], [], [], 0
        for n, query in enumerate(queries):
            runs = [("new", model)] + ([("old", old)] if old is not None else [])
            results = {}
            for which, served in runs if n % 2 else runs[::-1]:  # alternate who goes first
                t = time.perf_counter()
                results[which] = served.recommend(query, k=10, rules=served.rules(**ruled) if ruled else None)
                (times if which == "new" else old_times).append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            model.embeddings @ profile
            floor.append((time.perf_counter() - t) * 1000)
            if model.quantized() is not None:
                t = time.perf_counter()
                model.quantized().bounded_scores(profile)
                int8_floor.append((time.perf_counter() - t) * 1000)
            result = results["new"]
            assert len(result["items"]) == 10 and all(item["reason"] for item in result["items"])
            if old is not None:
                differ += [(i["id"], i["reason"], i["score"]) for i in result["items"]] != [
                    (i["id"], i["reason"], i["score"]) for i in results["old"]["items"]]
        (p50, p95), (floor50, floor95) = percentiles(times), percentiles(floor)
        print(f"Top-10 with reasons, one {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms (in process, as in the "
              f"worker's thread; the embeddings pass alone: p50 {floor50:.1f} ms, p95 {floor95:.1f} ms)")
        if int8_floor:
            int8_50, int8_95 = percentiles(int8_floor)
            print(f"    the int8 embeddings pass it serves from (with its bound): p50 {int8_50:.1f} ms, "
                  f"p95 {int8_95:.1f} ms")
        if old is not None:
            old50, old95 = percentiles(old_times)
            print(f"    {against}'s Recommender, interleaved: p50 {old50:.1f} ms, p95 {old95:.1f} ms; "
                  f"p50 ratio new/old {p50 / old50:.2f}, p95 ratio {p95 / old95:.2f}; "
                  f"{differ} of {len(queries)} answers differ")
    if new_catalog_figures:
        new_catalog(model, users)


def new_catalog(model, users, new: int = 1_000) -> None:
    """“Use the new catalog”: what the worker's first request costs (MiniLM over the new items' text, joining
    them to the model) and the top-10 latency afterwards, once per (artifact, catalog version)."""
    import numpy as np

    from inference.knowledge.embedder import embed
    from inference.registry import ModelNotInstalled

    texts = [f"New item {i}: a lightweight waterproof jacket for trail running, size {i % 7}" for i in range(new)]
    started = time.perf_counter()
    try:
        vectors = embed(texts, threads=1)
    except ModelNotInstalled as exc:
        print(f"New catalog: skipped ({exc})")
        return
    embedded = time.perf_counter() - started
    ids = [*model.item_ids, *(f"new-{i}" for i in range(new))]
    cards = [*model.items, *({"title": f"New item {i}"} for i in range(new))]
    # The synthetic model's vectors are random, not MiniLM's: join the new ones at its width, unit length.
    rng = np.random.default_rng(2)
    joined = rng.standard_normal((new, model.embeddings.shape[1])).astype(np.float32)
    joined /= np.linalg.norm(joined, axis=1, keepdims=True)
    started = time.perf_counter()
    extended = model.with_catalog(ids, cards, joined)
    built = time.perf_counter() - started
    print(f"New catalog with {new:,} new items: MiniLM over their text {embedded:.1f} s on one thread "
          f"({vectors.shape[0]:,} vectors), joining them to the model {built * 1000:.0f} ms")
    extended.recommend({"user": extended.user_ids[int(users[0])]}, k=10)
    for name, queries in (("user", [{"user": extended.user_ids[int(u)]} for u in users]),
                          ("new item's similar items", [{"item": f"new-{i}"} for i in range(300)])):
        times = []
        for query in queries:
            t = time.perf_counter()
            extended.recommend(query, k=10)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(f"Top-10 with reasons on the new catalog, one {name}: p50 {statistics.median(times):.1f} ms, "
              f"p95 {times[int(0.95 * len(times)) - 1]:.1f} ms")


def api(items: int, interactions: int, requests: int, redis_url: str | None, database_url: str | None,
        close_connections: bool = False) -> None:
    """3. api: top-10 for one user end to end, ``POST /api/v1/products/<slug>/generate/`` with an API key against a
    live studio (studio.server; its embedded inference worker, or ``manage.py inference_worker`` over Redis with
    ``--redis``; a temporary SQLite file, or the PostgreSQL database of ``--database-url``), p50 / p95 over
    ``requests`` users, interleaved with the same model's ``recommend`` in this process, and the rank runner's
    own time as the worker recorded it. The product is trained by the real training worker on the shipped
    sample (MiniLM installed from its package), then its artifact folder is overwritten with a synthetic model
    of ``items`` items saved the same way (arrays in .npz, float16 embeddings), which the worker loads on the
    first request. The server and worker run with tests/benchmarks/live_settings.py (database connections kept
    between requests, as in production) unless ``close_connections`` (the test settings: a connect per request)."""
    import http.client
    import json
    import shutil
    import tempfile

    import numpy as np

    from tests.benchmarks.bench_websocket import bench_team, configure_django, free_port, start_processes

    var_dir = Path(tempfile.mkdtemp(prefix="bench-reco-api-"))
    env = configure_django(var_dir, redis_url, database_url) | {"STUDIO_API_PER_MINUTE": "1000000",
                                                   "STUDIO_TEAM_API_PER_MINUTE": "1000000"}
    if not close_connections:  # the live processes keep their connections, as a deployed studio does
        env["DJANGO_SETTINGS_MODULE"] = "tests.benchmarks.live_settings"
    from django.core.files.uploadedfile import SimpleUploadedFile

    from inference.models import ModelArtifact
    from inference.training.recommender.model import AlsSettings, Recommender, fit_als, pin_blas_threads
    from inference.training.recommender.pipeline import Arrays
    from inference.training.worker import TrainingWorker
    from products.api.services import api_key_create
    from products.datasets.services import dataset_upload_create, dataset_version_create
    from products.services import product_create, product_version_publish
    from products.training.services import product_version_create_from_run, training_run_create
    from tests.training.recommender_fixtures import CATALOG_MAPPING, INTERACTIONS_MAPPING

    user, team = bench_team(var_dir)
    product = product_create(team=team, user=user, kind_id="recommendation", template_id="picked-for-you",
                             name="Recommender")
    versions = {}
    for shape, name, mapping in (("catalog", "shop_catalog.csv", CATALOG_MAPPING),
                                 ("interactions", "shop_interactions.csv", INTERACTIONS_MAPPING)):
        upload = dataset_upload_create(team=team, user=user, name=f"Shop {shape}",
                                       file=SimpleUploadedFile(name, (SAMPLES / name).read_bytes(),
                                                               content_type="text/csv"))
        versions[shape] = dataset_version_create(source=upload, user=user, kind="recommendation", shape=shape,
                                                 column_mapping=mapping)
    run = training_run_create(product=product, dataset_version=versions["interactions"],
                              catalog_version=versions["catalog"], user=user)
    TrainingWorker(poll_seconds=1).run_once()
    run.refresh_from_db()
    if run.status != "succeeded":
        raise SystemExit(f"The sample training failed: {run.error}")
    product_version_publish(product=product, version=product_version_create_from_run(run=run, user=user))
    secret = api_key_create(team=team, user=user, name="Bench", scope="generate").secret

    pin_blas_threads()
    data, embeddings = synthetic(items, interactions)
    arrays = Arrays(data)
    als = AlsSettings(factors=64)
    matrix = arrays.matrix(np.arange(len(arrays.users)))
    fitted = fit_als(matrix, als)
    folder = ModelArtifact.objects.get(run=run).directory
    shutil.rmtree(folder)
    folder.mkdir(parents=True)
    Recommender(item_ids=arrays.item_ids, user_ids=arrays.user_ids, item_factors=fitted.item_factors,
                user_factors=fitted.user_factors, embeddings=embeddings,
                popularity=np.bincount(arrays.items, minlength=items).astype(np.float32), history=matrix,
                items=[{"title": i.title} for i in data.items], weight=0.5, settings=als).save(folder)
    model = Recommender.load(folder)  # what the worker serves: the saved arrays, float16 embeddings
    rng = np.random.default_rng(1)
    users = [model.user_ids[int(u)] for u in rng.choice(len(model.user_ids), size=requests + 1, replace=False)]

    port = free_port()
    processes = start_processes(env, port, separate_worker=bool(redis_url))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    def over_api(user_id: str) -> dict:
        connection.request("POST", f"/api/v1/products/{product.slug}/generate/",
                           json.dumps({"inputs": {"user": user_id, "k": 10}}), headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"The API answered {response.status}: {body[:300]!r}")
        return json.loads(body)["result"]

    try:
        started = time.perf_counter()
        over_api(users[0])  # the worker loads the 100k-item artifact
        loaded = time.perf_counter() - started
        model.recommend({"user": users[0]}, k=10)
        through_api, in_process, same = [], [], 0
        for user_id in users[1:]:
            t = time.perf_counter()
            result = over_api(user_id)
            through_api.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            local = model.recommend({"user": user_id}, k=10)
            in_process.append((time.perf_counter() - t) * 1000)
            same += [i["id"] for i in result["items"]] == [i["id"] for i in local["items"]]
    finally:
        connection.close()
        for process in processes:
            process.terminate()
    from products.models import Generation

    # The rank runner's own time, as the worker recorded it (the first request, which loaded the model, left out).
    worker = percentiles([float(ms) for ms in Generation.objects.filter(product=product).order_by("created_at", "id")
                          .values_list("duration_ms", flat=True)[1:]])
    shutil.rmtree(var_dir, ignore_errors=True)
    (api50, api95), (local50, local95) = percentiles(through_api), percentiles(in_process)
    mode = "separate inference worker over Redis" if redis_url else "the server's embedded inference worker"
    print(f"API end to end ({mode}), {items:,} items, {requests} users, first request {loaded:.1f} s (loads "
          f"the artifact): top-10 with reasons p50 {api50:.1f} ms, p95 {api95:.1f} ms; the same model in this "
          f"process, interleaved: p50 {local50:.1f} ms, p95 {local95:.1f} ms; API − in-process p50 "
          f"{api50 - local50:.1f} ms; same items both ways for {same} of {requests} users")
    print(f"    the worker's rank runner (Generation.duration_ms, whole ms): p50 {worker[0]:.0f} ms, "
          f"p95 {worker[1]:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("quality", "speed", "api"))
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--serving-only", action="store_true", help="one ALS fit, then the latencies")
    parser.add_argument("--against", type=Path, help="an older checkout whose Recommender to interleave with")
    parser.add_argument("--requests", type=int, default=300, help="api: users asked for, one request each")
    parser.add_argument("--redis", help="api: serve through a separate inference worker over this Redis URL")
    parser.add_argument("--database-url", help="api: this PostgreSQL database instead of a temporary SQLite file")
    parser.add_argument("--close-connections", action="store_true",
                        help="api: the live processes close their database connection after each request "
                             "(tests/settings.py), not keep it as production does")
    parser.add_argument("--skip-new-catalog", action="store_true", help="leave out the “new catalog” figures")
    parser.add_argument("--data", choices=("shop", "goodbooks"), default="shop",
                        help="quality: the studio's shipped shop sample, or the goodbooks-10k sample")
    parser.add_argument("--seeds", type=int, default=1, help="quality: ALS seeds to average over (from 42)")
    args = parser.parse_args()
    if args.what == "quality":
        quality(args.data, args.seeds)
    elif args.what == "api":
        api(args.items, args.interactions, args.requests, args.redis, args.database_url, args.close_connections)
    else:
        speed(args.items, args.interactions, serving_only=args.serving_only, against=args.against,
              new_catalog_figures=not args.skip_new_catalog)


if __name__ == "__main__":
    main()
