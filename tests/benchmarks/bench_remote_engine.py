"""What the studio adds on top of a remote OpenAI-compatible engine (a script: it prints figures, asserts nothing).

    DATABASE_URL=postgres://…/<db> REDIS_URL=redis://…/<n> nice -n 10 \\
        .venv/bin/python tests/benchmarks/bench_remote_engine.py [--requests 20] [--tokens 32]

The remote engine is a second live studio serving its own `/v1/chat/completions` (tests/live.py
studio_process: daphne, embedded worker, SmolLM2, in-memory channel layer), on the same database, so its own
Generation rows say what it produced and when. This process is the studio people use: a product whose draft
points at the remote ("studio2", allowed in REMOTE_ENGINES), its inference worker on Redis, and the playground
websocket (WebsocketCommunicator on the real ASGI application). The database is migrated and used as is
(give it a database of its own); rows are left for inspection.

Figures (targets from issue 18):
1. tokens delivered over the websocket ÷ tokens the remote server produced (≥ 0.95): the delivered text,
   tokenised with SmolLM2's tokenizer, against the remote Generation's completion tokens; and how many
   requests delivered exactly the remote's text.
2. time to first token over the websocket minus the remote server's own TTFT (its Generation row), p50/p95
   over the requests (≤ 40 ms).
3. The fair comparison: TTFT of a direct streaming client (one pooled httpx client, as an OpenAI SDK keeps one)
   posting the very body this studio sends to the remote's /v1/chat/completions, against TTFT over this studio's
   websocket pointing at that remote; interleaved (the order alternates), same prompt, p50/p95 of both and of
   the paired difference; then each against the remote's own TTFT of that request (its prefill varies by
   hundreds of ms on a busy CPU and would swamp the figure), and what the studio adds over the direct
   client (≤ 40 ms). Then where the websocket's time to first token goes, step by step (studio/timeline.py
   marks of this studio's consumer, channel layer, worker and remote-engine client, median and p95 per step).
4. Stop after the first token of a long answer: the remote request ends (its row leaves "running",
   finish reason "cancelled"), and how long after Stop that was.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "1")  # set-up code below runs outside the loop's threads

INPUTS_TOPIC = "A bakery on Mill Road that opens at six"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def setup(remote_url: str):
    from django.core.cache import cache

    from products.api.services import api_key_create
    from products.services import (
        product_create,
        product_draft_update,
        product_engine_update,
        product_version_create,
        product_version_publish,
    )
    from studio.services import team_create
    from tests.studio.test_websocket_routing import _session_cookie_for

    cache.clear()
    from django.contrib.auth import get_user_model

    stamp = str(int(time.time()))
    users = get_user_model().objects
    remote_owner = users.create_user(username=f"remote-{stamp}@bench.example", email=f"remote-{stamp}@bench.example",
                                     password="x" * 12)
    remote_team = team_create(name=f"Remote {stamp}", owner=remote_owner)
    def served_product(name: str, *, one_line: bool):
        product = product_create(team=remote_team, user=remote_owner, kind_id="copywriting",
                                 template_id="social-post", name=name)
        product_draft_update(product=product, system_prompt=product.system_prompt,
                             prompt_template="Write a long essay of at least thirty paragraphs about this: {topic}",
                             settings={"creativity": 0, "length": 1024, "variants": 1})
        if one_line:
            # Ends at a newline instead of trimming its text back to the last full sentence (which the remote
            # would do after streaming the words it then drops), so streamed text and produced tokens compare.
            product.kind_config = {**product.kind_config, "one_line": True}
            product.save()
        product_version_publish(product=product, version=product_version_create(product=product, user=remote_owner))
        return product

    served = served_product("Served", one_line=True)
    long_served = served_product("Long", one_line=False)
    key = api_key_create(team=remote_team, user=remote_owner, name="bench", scope="generate").secret

    from django.conf import settings

    settings.REMOTE_ENGINES = {"studio2": f"{remote_url}/v1"}
    settings.REMOTE_READ_TIMEOUT_S = 120
    owner = users.create_user(username=f"local-{stamp}@bench.example", email=f"local-{stamp}@bench.example",
                              password="x" * 12)
    team = team_create(name=f"Local {stamp}", owner=owner)
    ours = product_create(team=team, user=owner, kind_id="copywriting", template_id="social-post", name="Ours")
    product_engine_update(product=ours, remote_engine="studio2", remote_model=served.slug, api_key=key)
    stopped = product_create(team=team, user=owner, kind_id="copywriting", template_id="social-post", name="Stopped")
    product_engine_update(product=stopped, remote_engine="studio2", remote_model=long_served.slug, api_key=key)
    from asgiref.sync import async_to_sync

    return (served, long_served), (ours, stopped), async_to_sync(_session_cookie_for)(owner), key


def direct_body(product, *, length: int) -> dict:
    """The /chat/completions body this studio's remote engine sends for ``product`` (same messages and params)."""
    from inference.engines.remote import chat_body
    from products.generation import generation_request
    from products.kinds import get_kind

    prepared = generation_request(kind=get_kind(product.kind), config=product, inputs={"topic": INPUTS_TOPIC},
                                  settings={"creativity": 0, "length": length, "variants": 1})
    return chat_body(prepared.request)


async def direct(client, url: str, body: dict, key: str, headers_ms: list[float] | None = None) -> float:
    """TTFT in ms of a client streaming straight from the remote: request sent → first content delta.

    ``headers_ms`` gets the time to the response's headers (the remote's front, as the step table's
    remote.http_sent -> remote.headers measures it for this studio's worker).
    """
    import json

    sent, first = time.perf_counter(), None
    async with client.stream("POST", f"{url}/chat/completions", json=body,
                             headers={"Authorization": f"Bearer {key}"}) as response:
        if headers_ms is not None:
            headers_ms.append((time.perf_counter() - sent) * 1000)
        assert response.status_code == 200, (await response.aread())[:300]
        async for line in response.aiter_lines():
            if first is None and line.startswith("data:") and line[5:].strip() != "[DONE]":
                chunk = json.loads(line[5:])
                if any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or []):
                    first = time.perf_counter()
    return (first - sent) * 1000


def pooled_connections() -> str:
    """How many connections this loop's remote-engine client holds, and how many requests each carried."""
    from inference.engines.remote import pooled_client

    connections = pooled_client()._transport._pool.connections  # httpcore's pool: a look, not an interface
    counts = [getattr(getattr(c, "_connection", None), "_request_count", "?") for c in connections]
    return f"{len(connections)} connection(s), requests each {counts}"


async def one(product, cookie: str, *, length: int, stop: bool = False) -> dict:
    from channels.testing import WebsocketCommunicator

    from studio.asgi import application

    communicator = WebsocketCommunicator(
        application, f"/ws/t/{product.team.slug}/products/{product.slug}/generate/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie.encode())])
    connected, _ = await communicator.connect()
    assert connected
    sent = time.perf_counter()
    await communicator.send_json_to({"action": "generate", "inputs": {"topic": INPUTS_TOPIC},
                                     "settings": {"creativity": 0, "length": length, "variants": 1}})
    first, text, stopped_at, frames = None, [], None, []
    while True:
        frame = await communicator.receive_json_from(timeout=300)
        frames.append(frame)
        if frame["event"] == "token":
            if first is None:
                first = time.perf_counter()
                if stop:
                    stopped_at = time.perf_counter()
                    await communicator.send_json_to({"action": "stop"})
            text.append(frame["text"])
        if frame["event"] in ("done", "error"):
            break
    await communicator.disconnect()
    return {"ttft_s": None if first is None else first - sent, "text": "".join(text), "last": frames[-1],
            "generation": frames[0].get("generation"), "stopped_at": stopped_at}


async def main_async(args, served_pair, ours_pair, cookie, key, remote_url) -> None:
    from channels.db import database_sync_to_async
    from channels.layers import get_channel_layer
    from tokenizers import Tokenizer

    from inference.registry import DEFAULT_MODEL_ID, model_path
    from inference.worker import InferenceWorker
    from products.models import Generation

    tokenizer = Tokenizer.from_file(str(model_path(Path(os.environ.get("MODELS_DIR", REPO_ROOT / "var/models")),
                                                   DEFAULT_MODEL_ID) / "tokenizer.json"))
    worker = asyncio.create_task(InferenceWorker(get_channel_layer()).run())
    (served, long_served), (ours, stopped) = served_pair, ours_pair

    def remote_rows(after: int):
        return list(Generation.objects.filter(product__in=[served, long_served], pk__gt=after).order_by("pk"))

    def last_pk() -> int:
        row = Generation.objects.order_by("-pk").first()
        return row.pk if row else 0

    async def finished_row(before: int, wait_s: float = 30):
        """The remote's row for the request after ``before``, once it has saved how the request ended."""
        deadline = time.perf_counter() + wait_s
        while True:
            rows = await database_sync_to_async(remote_rows)(before)
            if rows and rows[-1].status != "running" or time.perf_counter() > deadline:
                return rows[-1] if rows else None
            await asyncio.sleep(0.05)

    try:
        for _ in range(2):  # warm both sides: the remote model loads, and both first requests pay one-off costs
            await one(ours, cookie, length=args.tokens)
        delivered, produced, received, same, overheads, ttfts, via_http = [], [], [], 0, [], [], []
        for _ in range(args.requests):
            before = await database_sync_to_async(last_pk)()
            got = await one(ours, cookie, length=args.tokens)
            theirs = await finished_row(before)
            delivered.append(len(tokenizer.encode(got["text"], add_special_tokens=False).ids))
            produced.append(theirs.tokens_out)
            received.append(got["last"].get("usage", {}).get("completion_tokens", 0))
            same += got["text"] == theirs.output
            ttfts.append(got["ttft_s"] * 1000)
            overheads.append(got["ttft_s"] * 1000 - theirs.time_to_first_token_ms)
            mine = await database_sync_to_async(Generation.objects.get)(pk=got["generation"])
            via_http.append(mine.time_to_first_token_ms - theirs.time_to_first_token_ms)
        ratio = sum(delivered) / sum(produced)
        print(f"[1] {args.requests} requests of up to {args.tokens} tokens: delivered {sum(delivered)} tokens over the "
              f"websocket / {sum(produced)} produced by the remote = {ratio:.3f} (target >= 0.95); "
              f"text identical to the remote's in {same}/{args.requests}; usage recorded here = remote's in "
              f"{sum(r == p for r, p in zip(received, produced, strict=True))}/{args.requests}")
        print(f"[2] TTFT over the websocket p50 {percentile(ttfts, .5):.0f} ms, p95 {percentile(ttfts, .95):.0f} ms; "
              f"overhead over the remote's own TTFT p50 {percentile(overheads, .5):.0f} ms, "
              f"p95 {percentile(overheads, .95):.0f} ms, mean {statistics.mean(overheads):.0f} ms (target <= 40 ms)")
        print(f"    of which this studio's worker waited on HTTP + the remote's own front (its API-key check, row, "
              f"queue) p50 {percentile(via_http, .5):.0f} ms, p95 {percentile(via_http, .95):.0f} ms; the rest is "
              "the websocket, Redis and this worker")

        import httpx2 as httpx

        body = await database_sync_to_async(direct_body)(ours, length=args.tokens)
        import tempfile

        from studio import timeline

        trace = Path(tempfile.mkdtemp(prefix="bench-remote-")) / "ttft-trace.jsonl"
        timeline.enable(str(trace))  # the websocket requests of [3] only
        direct_ms, socket_ms, direct_over, socket_over, direct_headers = [], [], [], [], []
        async with httpx.AsyncClient(timeout=120, trust_env=False) as client:
            await direct(client, f"{remote_url}/v1", body, key)  # its connection, as a long-lived client has one
            for i in range(args.requests):
                pair = [("direct", lambda: direct(client, f"{remote_url}/v1", body, key, direct_headers)),
                        ("socket", lambda: one(ours, cookie, length=args.tokens))]
                for name, call in pair if i % 2 == 0 else pair[::-1]:  # alternate who goes first
                    before = await database_sync_to_async(last_pk)()
                    got = await call()
                    theirs = await finished_row(before)
                    ms = got if name == "direct" else got["ttft_s"] * 1000
                    (direct_ms if name == "direct" else socket_ms).append(ms)
                    # Against the remote's own clock for that very request: its prefill time, which varies by
                    # hundreds of ms on a busy CPU, cancels out of the comparison.
                    (direct_over if name == "direct" else socket_over).append(ms - theirs.time_to_first_token_ms)
        paired = [s - d for s, d in zip(socket_ms, direct_ms, strict=True)]
        print(f"[3] TTFT, {args.requests} interleaved pairs, same prompt: direct streaming client to the remote's "
              f"/v1/chat/completions p50 {percentile(direct_ms, .5):.0f} ms, p95 {percentile(direct_ms, .95):.0f} ms; "
              f"through this studio's websocket p50 {percentile(socket_ms, .5):.0f} ms, "
              f"p95 {percentile(socket_ms, .95):.0f} ms; difference of p50s "
              f"{percentile(socket_ms, .5) - percentile(direct_ms, .5):.0f} ms, paired difference p50 "
              f"{percentile(paired, .5):.0f} ms, p95 {percentile(paired, .95):.0f} ms")
        print(f"    each over the remote's own TTFT of the same request: direct client p50 "
              f"{percentile(direct_over, .5):.0f} ms, p95 {percentile(direct_over, .95):.0f} ms; through the studio "
              f"p50 {percentile(socket_over, .5):.0f} ms, p95 {percentile(socket_over, .95):.0f} ms; what the studio "
              f"adds: p50 {percentile(socket_over, .5) - percentile(direct_over, .5):.0f} ms, p95 "
              f"{percentile(socket_over, .95) - percentile(direct_over, .95):.0f} ms (target <= 40 ms)")
        print("    where the websocket's time to first token goes (median and p95 of each step):")
        for line in timeline.breakdown_lines(timeline.read(str(trace)).values()):
            print(line)
        print(f"      (the direct client: sent -> headers p50 {percentile(direct_headers, .5):.1f} ms, "
              f"p95 {percentile(direct_headers, .95):.1f} ms)")
        print(f"    the worker's remote-engine connections to the remote after {args.requests + 2 + args.requests} "
              f"requests: {pooled_connections()} (1 = HTTP keep-alive reused one connection)")

        before = await database_sync_to_async(last_pk)()
        got = await one(stopped, cookie, length=1024, stop=True)
        theirs = await finished_row(before)
        ended = time.perf_counter() - got["stopped_at"]
        print(f"[4] Stop after the first token of a 1024-token answer: ours ended "
              f"{got['last'].get('usage', {}).get('finish_reason', got['last'])}; the remote request "
              f"{'ended' if theirs and theirs.status != 'running' else 'was STILL RUNNING'} "
              f"(status {theirs and theirs.status}, finish {theirs and theirs.finish_reason}, "
              f"{theirs and theirs.tokens_out} tokens written), seen within {ended * 1000:.0f} ms of Stop")
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        raise SystemExit("Set DATABASE_URL (PostgreSQL, a database of its own) and REDIS_URL: the two studios "
                         "share the database, and this one's worker listens on Redis.")
    import django

    django.setup()
    from django.core.management import call_command

    from tests.live import studio_process

    call_command("migrate", verbosity=0)  # before the remote studio starts on the same database

    with studio_process(REDIS_URL="", STUDIO_REMOTE_ENGINES="") as remote_url:
        served, ours, cookie, key = setup(remote_url)
        print(f"remote studio at {remote_url}; models (its products) {served[0].slug}, {served[1].slug}")
        asyncio.run(main_async(args, served, ours, cookie, key, remote_url))


if __name__ == "__main__":
    main()
