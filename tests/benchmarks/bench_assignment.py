"""Benchmark the A/B assignment: how close 1M stable ids land to an 80/20 split, and how fast.

Run on demand (pytest does not collect tests/benchmarks):

    .venv/bin/python tests/benchmarks/bench_assignment.py               # 1M ids, 20 % candidate
    .venv/bin/python tests/benchmarks/bench_assignment.py --ids 100000 --share 5

The ids look like what the studio hashes: the widget's random 32-hex visitor ids, signed-in users
(``user:<pk>``) and API keys or end users. Target: within ±0.5 % of the share set.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from products.releases.assignment import CANDIDATE, arm_for  # noqa: E402  (pure: no Django needed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=20.0)
    args = parser.parse_args()
    kinds = (lambda n: secrets.token_hex(16), lambda n: f"user:{n}", lambda n: f"end-user-{n}@example.com")
    ids = [kinds[n % 3](n) for n in range(args.ids)]
    started = time.perf_counter()
    candidate = sum(arm_for(product_id=42, release_id=7, stable_id=i, share_percent=args.share) == CANDIDATE
                    for i in ids)
    seconds = time.perf_counter() - started
    seen = 100 * candidate / args.ids
    first = [arm_for(product_id=42, release_id=7, stable_id=i, share_percent=args.share) for i in ids[:100_000]]
    again = [arm_for(product_id=42, release_id=7, stable_id=i, share_percent=args.share) for i in ids[:100_000]]
    ok = abs(seen - args.share) <= 0.5
    print(f"ids: {args.ids:,}  split set: {100 - args.share:g}/{args.share:g}")
    print(f"on the candidate: {candidate:,} = {seen:.3f} % (off by {seen - args.share:+.3f} points; "
          f"target ±0.5: {'met' if ok else 'MISSED'})")
    print(f"sticky: the first 100,000 ids hashed twice gave the same arms: {again == first}")
    print(f"speed: {args.ids / seconds:,.0f} assignments/s ({1e6 * seconds / args.ids:.2f} µs each)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
