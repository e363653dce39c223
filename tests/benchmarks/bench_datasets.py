"""Benchmark the dataset doctor: rows/s to validate and store a CSV, and peak memory for 100k vs 1M rows.

Run on demand (pytest does not collect tests/benchmarks):

    .venv/bin/python tests/benchmarks/bench_datasets.py                  # 100k and 1M rows
    .venv/bin/python tests/benchmarks/bench_datasets.py --rows 100000    # one size

Each size runs in its own process so peak RSS is not carried over from a bigger run. The work
measured is what an upload does after Django has the file: one validating pass (sniffing, parsing,
types, empties, duplicates, token lengths) and one hashing copy into MEDIA_ROOT; plus, separately,
a full streaming read of the stored version (what training does). Memory is measured twice:
tracemalloc's peak of Python allocations during validate+store, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORDS = [
    "mug", "ceramic", "handmade", "blue", "large", "small", "coffee", "tea", "linen", "wool", "oak", "walnut",
    "lamp", "warm", "soft", "light", "durable", "shipping", "return", "order", "refund", "parcel", "delivery",
    "account", "invoice", "price", "colour", "size", "gift", "quick", "easy",
]


def write_csv(path: Path, rows: int) -> int:
    """A question/answer/category CSV of ``rows`` rows (~110 bytes each), with a few duplicates."""
    rng = random.Random(rows)
    line = ""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("question,answer,category\n")
        for i in range(rows):
            if not (i and i % 1000 == 0):  # every thousandth row repeats the one before it
                question = " ".join(rng.choice(WORDS) for _ in range(6)) + f" {i}?"
                answer = " ".join(rng.choice(WORDS) for _ in range(10)) + "."
                line = f'{question},"{answer}, really",{rng.choice(WORDS)}\n'
            out.write(line)
    return path.stat().st_size


def child(rows: int) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings

    from products.datasets.formats import FileFormat
    from products.datasets.reader import iter_rows
    from products.datasets.storage import store_stream
    from products.datasets.tokens import TokenCounter
    from products.datasets.validation import validate_file

    with tempfile.TemporaryDirectory(prefix="bench-datasets-") as tmp:
        settings.MEDIA_ROOT = str(Path(tmp) / "media")
        source = Path(tmp) / "data.csv"
        size = write_csv(source, rows)
        TokenCounter()  # load the tokenizer outside the timings, as a warm web process would have
        baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        def validate_and_store(name: str):
            with source.open("rb") as stream:
                result = validate_file(stream, filename="data.csv")
                stored = store_stream(stream, name=name)
            return result, stored

        started = time.perf_counter()
        result, stored = validate_and_store("datasets/bench/timed.csv")
        seconds = time.perf_counter() - started

        tracemalloc.start()
        validate_and_store("datasets/bench/traced.csv")
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        fmt = FileFormat(result.fmt.format, result.fmt.encoding, result.fmt.delimiter)
        columns = [column["name"] for column in result.columns]
        started = time.perf_counter()
        with open(Path(settings.MEDIA_ROOT) / stored.name, "rb") as stream:
            read = sum(1 for _ in iter_rows(stream, fmt, columns))
        read_seconds = time.perf_counter() - started
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    assert read == rows == result.row_count, (read, rows, result.row_count)
    return {
        "rows": rows,
        "file_mb": round(size / 2**20, 1),
        "verdict": result.verdict,
        "duplicates": result.report["duplicate_rows"],
        "token_method": result.report["tokens"]["method"],
        "validate_store_s": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "mb_per_s": round(size / 2**20 / seconds, 1),
        "read_rows_per_s": round(rows / read_seconds),
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 2),
        "baseline_rss_mb": round(baseline_rss / 1024, 1),
        "peak_rss_mb": round(peak_rss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    results = []
    for rows in args.rows:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(rows)], capture_output=True, text=True, check=True, cwd=ROOT
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    header = f"{'rows':>10} {'MB':>7} {'validate+store':>15} {'rows/s':>9} {'MB/s':>6} {'read rows/s':>12} " \
             f"{'py peak MB':>11} {'RSS base→peak MB':>17}"
    print("\n" + header)
    for r in results:
        print(
            f"{r['rows']:>10,} {r['file_mb']:>7} {r['validate_store_s']:>14}s {r['rows_per_s']:>9,} {r['mb_per_s']:>6} "
            f"{r['read_rows_per_s']:>12,} {r['tracemalloc_peak_mb']:>11} "
            f"{r['baseline_rss_mb']:>8}→{r['peak_rss_mb']:<8}"
        )


if __name__ == "__main__":
    main()
