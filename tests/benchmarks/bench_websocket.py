"""Websocket delivery benchmark (a script, not a test: it prints figures and asserts nothing timed).

    .venv/bin/python tests/benchmarks/bench_websocket.py [--max-new-tokens 128] [--repeats 5] [--redis URL]

(2) The same product prompt, greedy, generated two ways in one run, interleaved:
    - over the websocket: a daphne server (embedded inference worker, or a separate
      `manage.py inference_worker` over Redis with --redis) streams to a client in this script,
      which counts the tokens it receives (usage.completion_tokens of the `done` frame) and the time
      from sending `generate` to the first `token` frame and to `done`;
    - in-process: LocalEngine.stream in this script, timed from the call to its first token (prefill)
      and to its result.
    Ratios: delivered tokens/s over the websocket ÷ engine in-process (target >= 0.95), and time to
    first token over the websocket ÷ in-process prefill (target <= 1.2).
(1) Issue 12's overhead figure: time to first token over the websocket minus llama.cpp's own in-process
    time to first token (`Llama.generate` on the same GGUF, threads and KV cache type, the very prompt
    tokens the server's engine prefills, about 200 of them), interleaved with the runs above (target
    <= 40 ms); and where the websocket's time goes, step by step (studio/timeline.py marks written by the
    server and the worker to a trace file: socket receive → generation_start → channel layer → worker →
    scheduler → first token → frames back → socket send).

The server runs on a throwaway SQLite database in a temporary directory; nothing of yours is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

PRODUCT_FACTS = {
    "product": "Trail running shoes",
    "features": "Waterproof mesh, grippy soles, 240 g, recycled laces",
    "audience": "weekend runners",
}
# Facts long enough that the prompt the engine prefills is about 200 tokens (issue 12's "~200-token prompt").
LONG_FEATURES = ("Waterproof mesh upper that breathes on hot days, grippy lugged soles for wet rock and mud, "
                 "240 g per shoe, recycled laces, a padded heel collar, a rock plate under the forefoot, "
                 "reflective details for early mornings, a gusseted tongue that keeps grit out, and a "
                 "six millimetre drop for a natural stride on long trail runs")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def configure_django(var_dir: Path, redis_url: str | None, database_url: str | None = None) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "STUDIO_VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url or f"sqlite:///{var_dir / 'bench.sqlite3'}",
        "MODELS_DIR": os.environ.get("MODELS_DIR") or str(REPO_ROOT / "var" / "models"),
    }
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    if redis_url:
        os.environ["REDIS_URL"] = env["REDIS_URL"] = redis_url
    import django

    django.setup()
    return env


def bench_team(var_dir: Path):
    """(user, team) of a fresh benchmark team in a migrated database with the bundled models installed; named after
    ``var_dir``, since a database may hold an earlier run's rows."""
    from django.conf import settings
    from django.core.management import call_command

    from inference.install import install_bundled_models
    from studio.services import team_create, user_signup

    call_command("migrate", verbosity=0)
    install_bundled_models(settings.MODELS_DIR)
    user = user_signup(email=f"{var_dir.name}@example.com", password="bench-password-123")
    return user, team_create(name=f"Bench {var_dir.name}", owner=user)


def seed_product():
    """A user, a team and a product-description product; returns (product, session cookie, inputs)."""
    from django.core.management import call_command
    from django.test import Client

    from products.services import product_create
    from studio.services import team_create, user_signup

    call_command("migrate", verbosity=0)
    user = user_signup(email="bench@example.com", password="bench-password-123")
    team = team_create(name="Bench", owner=user)
    product = product_create(team=team, user=user, kind_id="copywriting", template_id="product-description")
    facts = {**PRODUCT_FACTS, "features": LONG_FEATURES}
    inputs = {field["name"]: facts.get(field["name"], field.get("default") or "x") for field in product.input_schema}
    client = Client()
    client.force_login(user)
    return product, client.cookies["sessionid"].value, inputs


def start_processes(env: dict[str, str], port: int, separate_worker: bool) -> list[subprocess.Popen]:
    embedded = "0" if separate_worker else "1"
    child_env = os.environ | env | {"PYTHONPATH": str(REPO_ROOT), "STUDIO_EMBEDDED_WORKERS": embedded}
    server = [sys.executable, "-m", "studio.server", "-b", "127.0.0.1", "-p", str(port), "studio.asgi:application"]
    processes = [subprocess.Popen(server, cwd=REPO_ROOT, env=child_env, stderr=subprocess.DEVNULL)]
    if separate_worker:
        worker = [sys.executable, "manage.py", "inference_worker"]
        processes.append(subprocess.Popen(worker, cwd=REPO_ROOT, env=child_env, stderr=subprocess.DEVNULL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return processes
        except OSError:
            time.sleep(0.1)
    raise SystemExit("The server did not start within 60 s.")


async def over_websocket(url: str, origin: str, cookie: str, message: dict) -> tuple[float, float, int, str]:
    """Send one `generate`; return (time to first token frame, time to done, tokens, text)."""
    from websockets.asyncio.client import connect

    # No keepalive pings: the server's first request loads the model, which can hold its loop past a ping's timeout.
    async with connect(url, origin=origin, additional_headers={"Cookie": f"sessionid={cookie}"},
                       max_size=None, ping_interval=None) as socket_:
        started = time.perf_counter()
        await socket_.send(json.dumps(message))
        first_token, parts = None, []
        async for raw in socket_:
            frame = json.loads(raw)
            if frame["event"] == "token":
                first_token = first_token or time.perf_counter() - started
                parts.append(frame["text"])
            elif frame["event"] == "done":
                return first_token, time.perf_counter() - started, frame["usage"]["completion_tokens"], "".join(parts)
            elif frame["event"] == "error":
                raise SystemExit(f"The server answered with an error: {frame['message']}")
    raise SystemExit("The websocket closed before the generation was done.")


def in_process(engine, request) -> tuple[float, float, int, str]:
    from inference.engines.base import TokenEvent

    started = time.perf_counter()
    first_token, parts = None, []
    for event in engine.stream(request):
        if isinstance(event, TokenEvent):
            first_token = first_token or time.perf_counter() - started
            parts.append(event.text)
        else:
            return first_token, time.perf_counter() - started, event.completion_tokens, "".join(parts)
    raise RuntimeError("The engine stream ended without a result.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--redis", help="serve through a separate inference worker over this Redis URL")
    parser.add_argument("--ttft-only", action="store_true",
                        help="only figure (1): leave out the torch engine in-process (slow on a busy CPU) and (2)")
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    env = configure_django(var_dir, args.redis)
    product, cookie, inputs = seed_product()

    from django.conf import settings

    from inference.engines.base import GenerationParams, GenerationRequest
    from inference.engines.local import LocalEngine
    from inference.install import install_bundled_models
    from inference.registry import model_path
    from products.generation import generation_request
    from products.kinds import get_kind

    install_bundled_models(settings.MODELS_DIR)
    greedy = {"creativity": 0, "length": args.max_new_tokens, "variants": 1}
    prepared = generation_request(kind=get_kind(product.kind), config=product, inputs=inputs, settings=greedy).request
    request = GenerationRequest(messages=prepared.messages, params=GenerationParams(**prepared.params))
    engine = None if args.ttft_only else LocalEngine(model_path(settings.MODELS_DIR, prepared.model), device="cpu")
    peer, prompt_ids = llama_peer(prepared.model, request)

    trace = var_dir / "ttft-trace.jsonl"
    env["STUDIO_TTFT_TRACE"] = str(trace)
    port = free_port()
    processes = start_processes(env, port, separate_worker=bool(args.redis))
    url = f"ws://127.0.0.1:{port}/ws/t/{product.team.slug}/products/{product.slug}/generate/"
    message = {"action": "generate", "inputs": inputs, "settings": greedy}
    try:
        asyncio.run(over_websocket(url, f"http://127.0.0.1:{port}", cookie, message))  # server loads the model
        if not args.ttft_only:
            in_process(engine, request)  # this process loads it too
        peer.single(prompt_ids, 2)
        trace.write_text("")  # the timed runs' steps only; emptied, not removed: the server keeps it open
        socket_runs, local_runs, llama_ttfts = [], [], []
        for _ in range(args.repeats):  # interleaved, so background load hits both alike
            socket_runs.append(asyncio.run(over_websocket(url, f"http://127.0.0.1:{port}", cookie, message)))
            if not args.ttft_only:
                local_runs.append(in_process(engine, request))
            llama_ttfts.append(peer.single(prompt_ids, 2)[1])
    finally:
        for process in processes:
            process.terminate()
    mode = "separate worker over Redis" if args.redis else "embedded worker"
    if not args.ttft_only:
        report(socket_runs, local_runs, mode)
    report_overhead(socket_runs, llama_ttfts, len(prompt_ids), mode, trace)


def llama_peer(model_id: str, request):
    """llama.cpp's own `Llama` on the server's GGUF and settings, and the prompt tokens the server's engine prefills."""
    import threading

    from django.conf import settings

    from inference.install import bundled_gguf
    from inference.runtime import build_engine
    from tests.benchmarks.bench_engine_llamacpp import Peer

    engine = build_engine(model_id, None, "llamacpp")
    prompt_ids = list(engine.prepare(request, threading.Event()).prompt_ids)
    peer = Peer(bundled_gguf(model_id), settings.INFERENCE_ENGINE_THREADS, settings.INFERENCE_KV_TYPE,
                settings.INFERENCE_SLOT_CONTEXT)
    return peer, prompt_ids


def report_overhead(socket_runs: list, llama_ttfts: list[float], prompt_tokens: int, mode: str, trace: Path) -> None:
    from studio import timeline

    ws = [first * 1000 for first, _, _, _ in socket_runs]
    own = [first * 1000 for first in llama_ttfts]
    paired = sorted(s - o for s, o in zip(ws, own, strict=True))
    print(f"[1] time to first token, {prompt_tokens}-token prompt ({mode}), {len(ws)} interleaved runs: websocket "
          f"median {statistics.median(ws):.1f} ms, llama.cpp in-process median {statistics.median(own):.1f} ms; "
          f"overhead (paired) median {statistics.median(paired):.1f} ms, max {paired[-1]:.1f} ms (target <= 40 ms)")
    if trace.exists():
        print("    where the websocket's time to first token goes (median and p95 of each step):")
        for line in timeline.breakdown_lines(timeline.read(str(trace)).values()):
            print(line)


def report(socket_runs: list, local_runs: list, mode: str) -> None:
    def rate(runs):
        return statistics.median(tokens / total for _, total, tokens, _ in runs)

    def ttft(runs):
        return statistics.median(first for first, _, _, _ in runs)

    def decode_rate(runs):  # after the first token: streaming cost without prefill or set-up
        return statistics.median((tokens - 1) / (total - first) for first, total, tokens, _ in runs)

    same_text = all(s[3] == local[3] for s, local in zip(socket_runs, local_runs, strict=True))
    tokens = socket_runs[0][2]
    print(f"[2] websocket ({mode}) vs in-process engine, {tokens} tokens, median of {len(socket_runs)}:")
    print(f"    delivered {rate(socket_runs):.2f} tok/s, in-process {rate(local_runs):.2f} tok/s, "
          f"ratio {rate(socket_runs) / rate(local_runs):.2f} (target >= 0.95)")
    print(f"    time to first token {ttft(socket_runs) * 1000:.1f} ms, in-process prefill "
          f"{ttft(local_runs) * 1000:.1f} ms, ratio {ttft(socket_runs) / ttft(local_runs):.2f} (target <= 1.2)")
    print(f"    after the first token: {decode_rate(socket_runs):.2f} tok/s over the websocket, "
          f"{decode_rate(local_runs):.2f} in-process")
    print(f"    same text both ways: {same_text}")


if __name__ == "__main__":
    main()
