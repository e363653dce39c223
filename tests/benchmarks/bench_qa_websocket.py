"""Q&A over the real websocket, this checkout against another (an old one), interleaved in one run.

    DATABASE_URL=postgres://… .venv/bin/python tests/benchmarks/bench_qa_websocket.py --old /work/old-qafast \
        [--chunks 2000] [--questions 60] [--builds 1] [--ttft 10]

* **Index build**: the SQuAD 2.0 train sample of tests/benchmarks/data/squad2/ (116 real paragraphs, CC BY-SA
  4.0) repeated until it makes about ``--chunks`` chunks (copy n in each title: the text repeats, the work does
  not shrink), uploaded as a Q&A dataset version and built by the real index worker (``IndexBuildWorker``:
  chunk, MiniLM, float16, database writes) in a fresh process of each checkout, alternately: chunks/s and
  that process's peak RSS.
* **Question → sources**: two servers (``studio.server``, embedded workers, this checkout's and the old one's)
  on the same database serve one Q&A product on the index this checkout built, with "how sure" at 0 so every
  question takes the answering path (retrieval, the prompt's passage budget, then ``sources``). A client sends
  ``generate`` with a SQuAD question and times the ``sources`` frame; then it sends ``stop`` and reads up to
  ``done``, so no generation overlaps the next question. Each question goes to both servers, the first of the
  two alternating.
* ``--ttft N``: time to the first ``token`` frame on this checkout's server for N questions, against a
  copy-style product (kind copywriting, its system prompt the Q&A one, its prompt template one field) whose
  input is the same numbered passages pasted in the answer runner's own layout: the prompt the model prefills
  is then the same but for the chat template's wrapping, and the difference is retrieval's cost.

The database is DATABASE_URL's (PostgreSQL: two servers and the build processes share it); a new team each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
NEW_ROOT = HERE.parents[2]
SQUAD = HERE.parent / "data" / "squad2"


def setup(root: Path, var_dir: str) -> dict[str, str]:
    sys.path.insert(0, str(root))
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "STUDIO_VAR_DIR": var_dir,
           "MODELS_DIR": os.environ.get("MODELS_DIR") or str(NEW_ROOT / "var" / "models")}
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database: the servers and build processes share it.")
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    return env


def squad_rows(chunks: int) -> tuple[list[tuple[str, str]], list[str]]:
    """(title, paragraph) rows repeated to about ``chunks`` chunks, and the answerable questions."""
    from django.conf import settings

    from inference.knowledge.chunking import chunk_text, minilm_token_counter

    paragraphs = [json.loads(line) for part in sorted(SQUAD.glob("*.jsonl"))
                  for line in part.open(encoding="utf-8") if line.strip()]
    count, offsets = minilm_token_counter(settings.MODELS_DIR)
    per_copy = sum(len(chunk_text(p["context"], count=count, offsets=offsets)) for p in paragraphs)
    copies = max(1, round(chunks / per_copy))
    rows = [(f"{p['title'].replace('_', ' ')} (copy {n})", p["context"]) for n in range(1, copies + 1)
            for p in paragraphs]
    questions = [q["question"] for p in paragraphs for q in p["qas"] if not q["is_impossible"]]
    return rows, questions


def child_build(csv_path: str, team_id: int, user_id: int) -> None:
    """In a fresh process of one checkout: upload, build with the real worker, print one JSON line."""
    from django.contrib.auth import get_user_model

    from studio.models import Team
    from tests.inference.knowledge import built_index, knowledge_version

    team, user = Team.objects.get(pk=team_id), get_user_model().objects.get(pk=user_id)
    version = knowledge_version(team, user, data=Path(csv_path).read_bytes(), name=f"SQuAD x ({time.time_ns()})")
    started = time.perf_counter()
    index = built_index(version)
    took = time.perf_counter() - started
    if not index.is_ready:
        raise SystemExit(f"The index did not build: {index.status} {index.error}")
    print(json.dumps({"chunks": index.chunks_total, "seconds": took, "version": version.pk,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_build(root: Path, env: dict[str, str], csv_path: str, team, user) -> dict:
    command = [sys.executable, str(HERE), "--child-build", csv_path, "--team", str(team.pk), "--user", str(user.pk),
               "--root", str(root)]
    done = subprocess.run(command, cwd=root, env=os.environ | env | {"PYTHONPATH": str(root)}, capture_output=True,
                          text=True, check=False)
    if done.returncode:
        raise SystemExit(f"The build in {root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def seed(var_dir: str):
    from django.test import Client

    from tests.benchmarks.bench_websocket import bench_team

    user, team = bench_team(Path(var_dir))
    client = Client()
    client.force_login(user)
    return team, user, client.cookies["sessionid"].value


def qa_product(team, user, version_id: int):
    from products.models import DatasetVersion
    from products.services import product_create, product_kind_config_update

    product = product_create(team=team, user=user, kind_id="qa", template_id="help-centre", name="SQuAD helper",
                             knowledge_version=DatasetVersion.objects.get(pk=version_id))
    product_kind_config_update(product=product, user=user, changes={"threshold": 0.0})
    product.refresh_from_db()
    return product


def start_server(root: Path, env: dict[str, str], port: int) -> subprocess.Popen:
    child_env = os.environ | env | {"PYTHONPATH": str(root), "STUDIO_EMBEDDED_WORKERS": "1"}
    command = [sys.executable, "-m", "studio.server", "-b", "127.0.0.1", "-p", str(port), "studio.asgi:application"]
    return subprocess.Popen(command, cwd=root, env=child_env, stderr=subprocess.DEVNULL)


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"The server on port {port} did not start within 90 s.")


class Asker:
    """One open playground socket of one server; ``ask`` times a question to its ``sources`` frame."""

    def __init__(self, port: int, team_slug: str, product_slug: str, cookie: str) -> None:
        self.url = f"ws://127.0.0.1:{port}/ws/t/{team_slug}/products/{product_slug}/generate/"
        self.origin, self.cookie, self.socket = f"http://127.0.0.1:{port}", cookie, None
        self.prompt_tokens: list[int] = []

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        self.socket = await connect(self.url, origin=self.origin, max_size=None, ping_interval=None,
                                    additional_headers={"Cookie": f"sessionid={self.cookie}"})

    async def ask(self, inputs: dict, *, until: str = "sources") -> float:
        """Seconds from sending ``generate`` to the first ``until`` frame; then stop and read to ``done``."""
        started = time.perf_counter()
        await self.socket.send(json.dumps({"action": "generate", "inputs": inputs, "settings": {"length": 16}}))
        took = None
        async for raw in self.socket:
            frame = json.loads(raw)
            if frame["event"] == until and took is None:
                took = time.perf_counter() - started
                await self.socket.send(json.dumps({"action": "stop"}))
            elif frame["event"] == "error":
                raise SystemExit(f"The server answered with an error: {frame}")
            elif frame["event"] == "done":
                if took is None:
                    raise SystemExit(f"No {until} frame before done: {frame}")
                if frame.get("result", {}).get("abstained"):
                    raise SystemExit(f"The answer abstained; the timing would miss the answering path: {frame}")
                self.prompt_tokens.append(int((frame.get("usage") or {}).get("prompt_tokens") or 0))
                return took
        raise SystemExit("The websocket closed before done.")


def per_token(times: list[float], asker: Asker) -> float:
    return float(np.median(np.array(times) / np.maximum(asker.prompt_tokens, 1)))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


async def bench_sources(askers: dict[str, Asker], questions: list[str]) -> dict[str, list[float]]:
    for asker in askers.values():
        await asker.open()
        for question in questions[:3]:  # the first question loads the index and the models
            await asker.ask({"question": question})
    times: dict[str, list[float]] = {name: [] for name in askers}
    names = list(askers)
    for i, question in enumerate(questions):
        for name in names if i % 2 == 0 else names[::-1]:
            times[name].append(await askers[name].ask({"question": question}))
    return times


def pasted_product(team, user, system: str):
    """A copywriting product whose system prompt is the answer runner's and whose template is one field."""
    from products.services import product_create, product_draft_update, product_kind_config_update

    product = product_create(team=team, user=user, kind_id="copywriting", template_id="product-description",
                             name="Pasted passages")
    # No worked examples (the template sends them as earlier turns): the prompt is then the passages and question.
    product_kind_config_update(product=product, user=user, changes={"examples": []})
    product.refresh_from_db()
    field = product.input_schema[0]["name"]
    product = product_draft_update(product=product, system_prompt=system, prompt_template="{" + field + "}",
                                   settings=product.settings)
    inputs = {f["name"]: f.get("default") or "x" for f in product.input_schema}
    return product, field, inputs


def pasted_prompt(version_id: int, question: str) -> tuple[str, str]:
    """The user turn the answer runner would build for ``question``: its passages numbered, in its own layout."""
    from django.conf import settings

    from inference.knowledge.embedder import embed
    from inference.knowledge.prompt import Passage, answer_prompt_for
    from inference.knowledge.search import index_cache, query_texts
    from inference.models import KnowledgeIndex
    from inference.registry import DEFAULT_MODEL_ID
    from inference.runners.answer import _prompt_counter

    loaded = index_cache().get(KnowledgeIndex.objects.get(dataset_version_id=version_id))
    texts, lexical = query_texts(question, [])
    hits = loaded.search(embed(texts, threads=1), lexical, top_k=4).hits
    prompt = answer_prompt_for([{"role": "user", "content": question}], question=question, budget_tokens=1500,
                               count=_prompt_counter(str(settings.MODELS_DIR), DEFAULT_MODEL_ID),
                               passages=[Passage(h.id, h.title, h.text) for h in hits])
    return prompt.messages[0]["content"], prompt.messages[-1]["content"]


async def bench_ttft(qa: Asker, pasted: Asker, field: str, inputs: dict, prompts: list[tuple[str, str]]):
    await qa.open()
    await pasted.open()
    await pasted.ask({**inputs, field: prompts[0][1]}, until="token")
    await qa.ask({"question": prompts[0][0]}, until="token")
    qa.prompt_tokens.clear()
    pasted.prompt_tokens.clear()
    with_retrieval, with_pasted = [], []
    for question, prompt in prompts:
        with_retrieval.append(await qa.ask({"question": question}, until="token"))
        with_pasted.append(await pasted.ask({**inputs, field: prompt}, until="token"))
    return with_retrieval, with_pasted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="the other checkout (its own .venv not needed: this Python runs it)")
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--builds", type=int, default=1, help="index builds of each checkout, alternating")
    parser.add_argument("--ttft", type=int, default=0, help="questions for time to first token vs pasted passages")
    parser.add_argument("--child-build")
    parser.add_argument("--team", type=int)
    parser.add_argument("--user", type=int)
    parser.add_argument("--root", type=Path, default=NEW_ROOT)
    args = parser.parse_args()
    var_dir = tempfile.mkdtemp(prefix="bench-qa-ws-")
    if args.child_build:
        setup(args.root, os.environ.get("STUDIO_VAR_DIR") or var_dir)
        child_build(args.child_build, args.team, args.user)
        return
    env = setup(NEW_ROOT, var_dir)
    from tests.inference.knowledge import csv_bytes

    team, user, cookie = seed(var_dir)
    rows, questions = squad_rows(args.chunks)
    csv_path = Path(var_dir) / "squad_repeated.csv"
    csv_path.write_bytes(csv_bytes(["title", "text"], rows))
    roots = {"new": NEW_ROOT, **({"old": args.old.resolve()} if args.old else {})}
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    builds: dict[str, list[dict]] = {name: [] for name in roots}
    for _ in range(args.builds):
        for name, root in roots.items():
            builds[name].append(run_build(root, env, str(csv_path), team, user))
    for name, runs in builds.items():
        print(f"index build [{name}] of {len(rows)} SQuAD paragraphs ({runs[0]['chunks']} chunks) through the real "
              f"worker in a fresh process: " + ", ".join(f"{r['chunks'] / r['seconds']:.0f} chunks/s "
                                                          f"({r['seconds']:.1f} s, peak RSS {r['rss_mb']:.0f} MB)"
                                                          for r in runs))
    served = builds["new"][-1]["version"]
    product = qa_product(team, user, served)
    from tests.live import free_port

    ports = {name: free_port() for name in roots}
    servers = [start_server(root, env, ports[name]) for name, root in roots.items()]
    try:
        for port in ports.values():
            wait_listening(port)
        askers = {name: Asker(port, team.slug, product.slug, cookie) for name, port in ports.items()}
        picked = [questions[i] for i in np.random.default_rng(13).permutation(len(questions))[:args.questions]]
        times = asyncio.run(bench_sources(askers, picked))
        for name, values in times.items():
            print(f"question -> sources over the websocket [{name}], {builds['new'][-1]['chunks']} chunks, "
                  f"{len(values)} questions: p50 {pct(values, 50):.1f} ms, p95 {pct(values, 95):.1f} ms, "
                  f"max {pct(values, 100):.1f} ms (target p95 <= 50 ms)")
        if "old" in times:
            print(f"  new/old: p50 {pct(times['new'], 50) / pct(times['old'], 50):.2f}, "
                  f"p95 {pct(times['new'], 95) / pct(times['old'], 95):.2f}")
        if args.ttft:
            made = [(q, *pasted_prompt(served, q)) for q in picked[:args.ttft]]
            paste, field, inputs = pasted_product(team, user, made[0][1])
            qa_ws, paste_ws = (Asker(ports["new"], team.slug, p.slug, cookie) for p in (product, paste))
            qa_ttft, pasted_ttft = asyncio.run(bench_ttft(qa_ws, paste_ws, field, inputs,
                                                          [(q, user_turn) for q, _, user_turn in made]))
            print(f"time to first token [new], {len(made)} questions interleaved: with retrieval p50 "
                  f"{pct(qa_ttft, 50):.0f} ms p95 {pct(qa_ttft, 95):.0f} ms (prompt tokens median "
                  f"{np.median(qa_ws.prompt_tokens):.0f}); same passages pasted (copy product) p50 "
                  f"{pct(pasted_ttft, 50):.0f} ms p95 {pct(pasted_ttft, 95):.0f} ms (prompt tokens median "
                  f"{np.median(paste_ws.prompt_tokens):.0f}); ratio of medians "
                  f"{pct(qa_ttft, 50) / pct(pasted_ttft, 50):.2f} (target <= 1.3), per prompt token "
                  f"{per_token(qa_ttft, qa_ws) / per_token(pasted_ttft, paste_ws):.2f}")
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
