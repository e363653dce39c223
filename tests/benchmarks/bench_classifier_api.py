"""p50/p95 of one text classified through the REST API of a live studio (a script: prints figures, asserts nothing).

    DATABASE_URL=postgres://…/<db> REDIS_URL=redis://…/<n> nice -n 10 \\
        .venv/bin/python tests/benchmarks/bench_classifier_api.py [--requests 200] [--warmup 10]

The studio is tests/live.py's studio_process: daphne with the embedded inference worker, on this database and
Redis (so a request goes web → Redis → the worker's classify runner → back), on a temporary media folder. On
it: a team, a classification product whose published version serves a real MiniLM classifier (the frozen
encoder with a logistic-regression head: tests/training/classifier_fixtures.py; latency does not depend on
how well it was trained), and an API key. This process then posts one text at a time, each after the last
answered (``POST /api/v1/products/<slug>/generate/``), and times request sent → JSON answer read, with one
pooled connection as a client library keeps one. The database is migrated and used as is (give it a database
of its own); rows are left for inspection.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

TEXTS = ("My parcel still has not arrived after two weeks.", "I was charged twice for the same order.",
         "How do I change the e-mail address on my account?", "The tracking link says delivered but it is not here.")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def setup(media_root: Path) -> tuple[str, str]:
    """(product slug, API key secret) of a published classifier on a new team."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from products.api.services import api_key_create
    from studio.services import team_create
    from tests.training.classifier_fixtures import build_classifier_artifact, publish_trained_version

    call_command("migrate", verbosity=0)
    settings.MEDIA_ROOT = str(media_root)
    from django.core.files.uploadedfile import SimpleUploadedFile

    from products.datasets.services import dataset_upload_create, dataset_version_create
    from products.services import product_create
    from tests.training.classifier_fixtures import labelled_csv, sample_rows

    stamp = str(int(time.time()))
    owner = get_user_model().objects.create_user(username=f"api-{stamp}@bench.example",
                                                 email=f"api-{stamp}@bench.example", password="x" * 12)
    team = team_create(name=f"Classifier API {stamp}", owner=owner)
    product = product_create(team=team, user=owner, kind_id="classification", template_id="support-routing",
                             name="Router")
    upload = dataset_upload_create(team=team, user=owner, name="Tickets", file=SimpleUploadedFile(
        "tickets.csv", labelled_csv(sample_rows()), content_type="text/csv"))
    dataset_version = dataset_version_create(source=upload, user=owner, kind="classification", shape="labelled",
                                             column_mapping={"text": ["message"], "label": ["category"]},
                                             validation_fraction=0.25)
    artifact = build_classifier_artifact(Path(tempfile.mkdtemp(prefix="classifier-", dir=media_root)))
    publish_trained_version(product=product, user=owner, dataset_version=dataset_version, artifact=artifact,
                            media_root=media_root)
    secret = api_key_create(team=team, user=owner, name="bench", scope="generate").secret
    return product.slug, secret


def classify(connection: http.client.HTTPConnection, slug: str, secret: str, text: str) -> tuple[float, dict]:
    """(milliseconds from request sent to answer read, the answer's JSON)."""
    body = json.dumps({"inputs": {"text": text}})
    started = time.perf_counter()
    connection.request("POST", f"/api/v1/products/{slug}/generate/", body=body,
                       headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {payload[:300]!r}")
    return elapsed, json.loads(payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10, help="requests before timing (the model loads on the first)")
    args = parser.parse_args()
    import django

    django.setup()
    from tests.live import studio_process

    with tempfile.TemporaryDirectory(prefix="bench-classifier-api-") as folder:
        media_root = Path(folder)
        slug, secret = setup(media_root)
        # The per-key and per-team limits (60 and 120 a minute) would answer 429 to a benchmark's requests.
        unlimited = str(10 * (args.requests + args.warmup))
        with studio_process(MEDIA_ROOT=str(media_root), STUDIO_API_PER_MINUTE=unlimited,
                            STUDIO_TEAM_API_PER_MINUTE=unlimited) as url:
            address = urlsplit(url)
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
            for i in range(args.warmup):
                _, answer = classify(connection, slug, secret, TEXTS[i % len(TEXTS)])
            print(f"answer: {json.dumps(answer['result'])[:200]}")
            times = [classify(connection, slug, secret, TEXTS[i % len(TEXTS)])[0] for i in range(args.requests)]
    print(f"one text through POST /api/v1/products/<slug>/generate/, {len(times)} requests one after another: "
          f"p50 {percentile(times, 0.5):.1f} ms, p95 {percentile(times, 0.95):.1f} ms, "
          f"mean {statistics.mean(times):.1f} ms, max {max(times):.1f} ms")


if __name__ == "__main__":
    main()
