"""Fine-tuning benchmarks (a script, not a test: it prints figures and asserts nothing timed).

    .venv/bin/python tests/benchmarks/bench_training.py [--device auto] [--steps 12] [--rounds 2] [--skip-quality]

1. Throughput: training tokens/s of the worker's Trainer (inference/training/trainer.py: LoRA on every
   linear layer, loss on reply tokens only, length-grouped batches, grad clipping, per-step learning
   rate) divided by a plain PyTorch loop on the same batches of the same examples, from the same
   initial adapter weights: ``model(input_ids, attention_mask, labels).loss.backward(); AdamW.step()``.
   Target >= 0.9. Rounds alternate between the sides so a busy machine slows them alike. A third
   side runs the same Trainer with its reply-only vocabulary projection switched off (full logits,
   like the plain loop), which isolates the trainer's own overhead from that optimisation.
2. Quality: held-out loss and perplexity of the tuned model against the base model on the shipped
   sample dataset (products/datasets/samples/product_descriptions.csv: 40 rows, 10% held out with
   seed 42, as a new dataset version is split), trained with the settings the studio picks for that
   dataset on this device.

No database: conversations come from the CSV through the copywriting kind, exactly as the worker
builds them from a dataset version mapped like the demo team's sample.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

SAMPLE = REPO_ROOT / "products" / "datasets" / "samples" / "product_descriptions.csv"
MAPPING = {"inputs": ["product", "category", "features"], "output": "description"}


def sample_conversations(template_id: str = "product-description"):
    """(train, validation) conversations of the sample CSV, split like a new dataset version (10 %, seed 42)."""
    from products.datasets.requirements import shape_get
    from products.datasets.split import DEFAULT_FRACTION, DEFAULT_SEED, validation_flags, validation_size
    from products.kinds import get_kind

    kind = get_kind("copywriting")
    template = kind.template(template_id)
    prompt_config = {"system_prompt": template.system_prompt, "prompt_template": template.prompt_template,
                     "input_schema": [field.to_dict() for field in template.inputs]}
    shape = shape_get("copywriting", "examples")
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    flags = validation_flags(len(rows), validation_size(len(rows), DEFAULT_FRACTION), DEFAULT_SEED)
    train, validation = [], []
    for row, held_out in zip(rows, flags, strict=True):
        example = {"inputs": {c: row[c] for c in MAPPING["inputs"]}, "output": row[MAPPING["output"]]}
        conversation = kind.training_conversation(example=example, rendered=shape.render(example),
                                                  prompt_config=prompt_config)
        (validation if held_out else train).append(conversation)
    return train, validation


@contextlib.contextmanager
def full_projection():
    """Make the trainer project every position onto the vocabulary, as ``model(..., labels=...)`` does."""
    from inference.training import losses

    original = losses._projects_plainly
    losses._projects_plainly = lambda causal_lm: False
    try:
        yield
    finally:
        losses._projects_plainly = original


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def plain_step(model, optimizer, batch) -> float:
    """The reference: what a hand-written PyTorch fine-tuning loop does for one batch."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
    out.loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return out.loss.item()


def throughput(args, model_dir: Path, device: str) -> None:
    import torch

    from inference.training.batching import padding_fraction, training_plan
    from inference.training.examples import tokenize_all
    from inference.training.losses import collate
    from inference.training.trainer import Trainer, load_lora_model, load_tokenizer, pad_token_id
    from products.training.hyperparameters import defaults_for

    train, _ = sample_conversations()
    tokenizer = load_tokenizer(model_dir)
    params = defaults_for(train_examples=len(train), device=device)
    examples = tokenize_all(tokenizer, train, max_length=params.max_length).examples
    lengths = [e.length for e in examples]
    needed = args.warmup + args.steps * args.rounds
    plan = training_plan(lengths, params.batch_size, epochs=math.ceil(needed * params.batch_size / len(examples)) + 1,
                         seed=params.seed)[:needed]
    pad = pad_token_id(tokenizer)

    worker_model = load_lora_model(model_dir, device=device, params=params)
    trainer = Trainer(worker_model, examples, plan, params=params, device=device, pad_id=pad)
    full_logits = Trainer(load_lora_model(model_dir, device=device, params=params), examples, plan, params=params,
                          device=device, pad_id=pad)
    plain_model = load_lora_model(model_dir, device=device, params=params)  # same seed: same initial adapters
    plain_model.train()
    plain_optimizer = torch.optim.AdamW([p for p in plain_model.parameters() if p.requires_grad],
                                        lr=params.learning_rate, weight_decay=0.0)

    def tokens(steps: range) -> int:
        return sum(lengths[i] for step in steps for i in plan[step])

    def full_logits_step(step: int) -> float:
        with full_projection():
            return full_logits.train_step(step).loss

    sides = {
        "trainer": lambda step: trainer.train_step(step).loss,
        "trainer, full logits": full_logits_step,
        "plain loop": lambda step: plain_step(plain_model, plain_optimizer,
                                              collate(examples, plan[step], pad_id=pad, device=device)),
    }
    first_losses = {name: run_step(0) for name, run_step in sides.items()}
    for step in range(1, args.warmup):
        for run_step in sides.values():
            run_step(step)

    rates: dict[str, list[float]] = {name: [] for name in sides}
    for round_index in range(args.rounds):
        steps = range(args.warmup + round_index * args.steps, args.warmup + (round_index + 1) * args.steps)
        for name, run_step in sides.items():
            synchronize(device)
            started = time.perf_counter()
            for step in steps:
                run_step(step)
            synchronize(device)
            rates[name].append(tokens(steps) / (time.perf_counter() - started))

    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"device: {device}; batch size {params.batch_size}; {len(examples)} examples, mean "
          f"{statistics.mean(lengths):.0f} tokens; padding in the measured batches "
          f"{padding_fraction(plan[args.warmup:], lengths):.1%}")
    print("first-step loss (same batch, same initial weights): "
          + ", ".join(f"{name} {loss:.4f}" for name, loss in first_losses.items()))
    for name, values in rates.items():
        print(f"{name:22} {median[name]:10.1f} tokens/s  (rounds: {', '.join(f'{r:.1f}' for r in values)})")
    print(f"throughput ratio trainer / plain loop: {median['trainer'] / median['plain loop']:.2f}  (target >= 0.9)")
    print(f"without the reply-only projection:    {median['trainer, full logits'] / median['plain loop']:.2f}")


def quality(args, model_dir: Path, device: str) -> None:
    from inference.training.batching import training_plan
    from inference.training.evaluation import perplexity
    from inference.training.examples import tokenize_all
    from inference.training.losses import mean_reply_loss
    from inference.training.trainer import Trainer, load_lora_model, load_tokenizer, pad_token_id
    from products.training.hyperparameters import defaults_for

    train, validation = sample_conversations()
    tokenizer = load_tokenizer(model_dir)
    params = defaults_for(train_examples=len(train), device=device)
    train_examples = tokenize_all(tokenizer, train, max_length=params.max_length).examples
    held_out = tokenize_all(tokenizer, validation, max_length=params.max_length).examples
    plan = training_plan([e.length for e in train_examples], params.batch_size, epochs=params.epochs, seed=params.seed)
    pad = pad_token_id(tokenizer)
    model = load_lora_model(model_dir, device=device, params=params)
    trainer = Trainer(model, train_examples, plan, params=params, device=device, pad_id=pad)
    with model.disable_adapter():
        base, reply_tokens = mean_reply_loss(model, held_out, batch_size=params.batch_size, pad_id=pad, device=device)
    started = time.perf_counter()
    trainer.train(start_step=0, after_step=lambda result: None)
    seconds = time.perf_counter() - started
    tuned, _ = mean_reply_loss(model, held_out, batch_size=params.batch_size, pad_id=pad, device=device)
    print(f"sample dataset: {len(train_examples)} training, {len(held_out)} held-out examples "
          f"({reply_tokens} reply tokens); studio defaults: {params.epochs} epochs, batch size {params.batch_size}, "
          f"learning rate {params.learning_rate}, LoRA rank {params.lora_rank}; {len(plan)} steps in {seconds:.0f} s "
          f"({trainer.tokens_seen / seconds:.0f} tokens/s)")
    print(f"held-out loss: base {base:.3f} (perplexity {perplexity(base):.1f}) -> tuned {tuned:.3f} "
          f"(perplexity {perplexity(tuned):.1f}); change {100 * (tuned - base) / base:+.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (cuda when present), cpu or cuda")
    parser.add_argument("--steps", type=int, default=12, help="measured steps per round and side")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--models-dir", default=str(REPO_ROOT / "var" / "models"))
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()

    from inference.engines.local import resolve_device
    from inference.install import install_bundled_models
    from inference.registry import DEFAULT_MODEL_ID, model_path

    install_bundled_models(Path(args.models_dir), log=print)
    model_dir = model_path(Path(args.models_dir), DEFAULT_MODEL_ID)
    device = resolve_device(args.device)
    if not args.skip_throughput:
        throughput(args, model_dir, device)
    if not args.skip_quality:
        quality(args, model_dir, device)


if __name__ == "__main__":
    main()
