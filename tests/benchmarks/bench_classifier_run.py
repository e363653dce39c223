"""A whole classifier training run through the real training worker, timed (a script, not a test).

    nice -n 10 .venv/bin/python tests/benchmarks/bench_classifier_run.py [--texts 10000] [--threads 1]
        [--database-url postgres://…]

The issue's budget is "10k short texts within 10 minutes here". bench_classifier.py --train-speed times the
training steps alone; this times what a person waits for: from the worker claiming the run to the run
succeeding, with the tokenising, the frozen baseline's embeddings and logistic regression, every epoch's dev
scoring, the held-out evaluation, calibration and the artifact, as the studio runs them with its defaults for the
size. The texts are the SpamAssassin sample's (tests/benchmarks/data/spam_assassin, 5,852 short texts, cut at the
trainer's 64 tokens), repeated with a marker until there are ``--texts`` of them: this proves speed, not quality
(bench_classifier.py measures that on the real rows). Each phase is read off the run's own log timestamps.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

DATA = REPO_ROOT / "tests" / "benchmarks" / "data" / "spam_assassin" / "spam_assassin.csv"


def texts_csv(count: int) -> bytes:
    """``count`` distinct (text, label) rows: the sample's, then repeats marked "(copy n)" so none is a duplicate."""
    with DATA.open(newline="", encoding="utf-8") as handle:
        rows = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
    random.Random(0).shuffle(rows)  # the file lists every ham before the spam
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "label"])
    for i in range(count):
        text, label = rows[i % len(rows)]
        copy = i // len(rows)
        writer.writerow([f"(copy {copy + 1}) {text}" if copy else text, label])
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--database-url", help="this PostgreSQL database instead of a temporary SQLite file")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from tests.benchmarks.bench_websocket import bench_team, configure_django

    var_dir = Path(tempfile.mkdtemp(prefix="bench-classifier-run-"))
    configure_django(var_dir, None, args.database_url)
    os.environ.setdefault("STUDIO_EMBEDDED_WORKERS", "0")
    from django.core.files.uploadedfile import SimpleUploadedFile

    from inference.models import TrainingRun
    from inference.training.worker import TrainingWorker
    from products.datasets.services import dataset_upload_create, dataset_version_create
    from products.services import product_create
    from products.training.services import training_run_create

    user, team = bench_team(var_dir)
    product = product_create(team=team, user=user, kind_id="classification", template_id="support-routing",
                             name="Spam filter")
    upload = dataset_upload_create(team=team, user=user, name="Mail", file=SimpleUploadedFile(
        "mail.csv", texts_csv(args.texts), content_type="text/csv"))
    version = dataset_version_create(source=upload, user=user, kind="classification", shape="labelled",
                                     column_mapping={"text": ["text"], "label": ["label"]})
    run = training_run_create(product=product, dataset_version=version, user=user)
    print(f"{args.texts:,} texts: {version.train_count:,} to train on, {version.validation_count:,} held out; "
          f"{run.hyperparameters.get('epochs')} epochs, batch {run.hyperparameters.get('batch_size')}, "
          f"torch threads {torch.get_num_threads()}", flush=True)

    started, cpu_started = time.perf_counter(), time.process_time()
    TrainingWorker(poll_seconds=1).run_once()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    run = TrainingRun.objects.get(pk=run.pk)
    # On one torch thread the process's CPU time is about what the wall clock reads on a quiet core; on a shared
    # machine the wall clock also counts the waits for a core.
    print(f"Whole run, claimed to {run.status}: {seconds / 60:.1f} min wall ({seconds:.0f} s), "
          f"{cpu / 60:.1f} min of CPU time in this process ({cpu:.0f} s)")
    first = run.log_entries.first().created_at
    for entry in run.log_entries.all():
        print(f"  +{(entry.created_at - first).total_seconds():6.0f} s  {entry.message[:150]}")
    if run.status != "succeeded":
        raise SystemExit(f"The run did not succeed: {run.error}")
    tuned = run.evaluation.metrics.get("tuned", {})
    print(f"Held-out accuracy {tuned.get('accuracy')} (repeated texts: a speed run, not a quality figure)")
    shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
