"""The LoRA trainer: a base causal LM with peft adapters, AdamW, and the step loop.

Transport- and database-free: the pipeline gives it examples and a plan of batches, and a callback
after every step decides what else happens (progress, checkpoints, validation, stopping). The
benchmark runs this same class against a plain PyTorch loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inference.training.examples import TokenizedExample
from inference.training.losses import collate, reply_loss_sum
from products.training.hyperparameters import HyperParameters, learning_rate_at

ADAPTER_FILE = "adapter_model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "trainer_state.json"
MAX_GRAD_NORM = 1.0


def training_dtype(device: str) -> torch.dtype:
    """bfloat16 weights on a GPU that has it (the adapters stay float32), float32 elsewhere."""
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.float32


def load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def load_lora_model(model_dir: Path, *, device: str, params: HyperParameters) -> Any:
    """The base causal LM with fresh LoRA adapters on every linear layer (peft), on ``device``."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=training_dtype(device), attn_implementation="sdpa", use_safetensors=True
    )
    model.config.use_cache = False
    lora = LoraConfig(
        r=params.lora_rank, lora_alpha=params.lora_alpha, lora_dropout=params.lora_dropout,
        target_modules="all-linear", task_type="CAUSAL_LM",
    )
    torch.manual_seed(params.seed)  # the adapters' initial weights
    model = get_peft_model(model, lora)
    model.to(device)
    return model


def pad_token_id(tokenizer: Any) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


@dataclass(frozen=True, slots=True)
class StepResult:
    step: int  # 1-based: the number of optimizer steps done
    loss: float  # mean cross-entropy per reply token in this batch
    tokens: int  # tokens in the batch (prompt and reply, no padding)
    seconds: float


class Trainer:
    """Trains the model's adapters on ``plan`` (a list of batches of example indices), one step at a time."""

    def __init__(
        self, model: Any, examples: Sequence[TokenizedExample], plan: Sequence[Sequence[int]], *,
        params: HyperParameters, device: str, pad_id: int,
    ) -> None:
        self.model, self.examples, self.plan = model, examples, plan
        self.params, self.device, self.pad_id = params, device, pad_id
        self.trainable = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.trainable, lr=params.learning_rate, weight_decay=0.0)
        self.tokens_seen = 0

    @property
    def total_steps(self) -> int:
        return len(self.plan)

    def train_step(self, step_index: int) -> StepResult:
        """One optimizer step on batch ``step_index`` (0-based)."""
        started = time.perf_counter()
        self.model.train()
        indices = self.plan[step_index]
        batch = collate(self.examples, indices, pad_id=self.pad_id, device=self.device)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate_at(step_index, total=self.total_steps, params=self.params)
        loss_sum, count = reply_loss_sum(self.model, batch)
        loss = loss_sum / max(count, 1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.trainable, MAX_GRAD_NORM)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        tokens = sum(self.examples[i].length for i in indices)
        self.tokens_seen += tokens
        return StepResult(step_index + 1, loss.item(), tokens, time.perf_counter() - started)

    def train(self, *, start_step: int, after_step: Callable[[StepResult], None]) -> None:
        """Run the remaining steps; ``after_step`` may raise to stop between two steps."""
        for step_index in range(start_step, self.total_steps):
            after_step(self.train_step(step_index))

    # Checkpoints: safetensors and JSON only, so resuming never unpickles anything.

    def save_state(self, folder: Path, *, step: int, extra: dict[str, Any]) -> None:
        from peft import get_peft_model_state_dict
        from safetensors.torch import save_file

        adapter = {k: v.detach().contiguous().cpu() for k, v in get_peft_model_state_dict(self.model).items()}
        save_file(adapter, str(folder / ADAPTER_FILE))
        tensors, groups = _flatten_optimizer(self.optimizer)
        tensors["rng.cpu"] = torch.get_rng_state()
        save_file(tensors, str(folder / OPTIMIZER_FILE))
        state = {"step": step, "tokens_seen": self.tokens_seen, "param_groups": groups, **extra}
        (folder / STATE_FILE).write_text(json.dumps(state))

    def load_state(self, folder: Path) -> dict[str, Any]:
        """Restore adapters, optimizer and random state from a checkpoint folder; returns its JSON state."""
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        state = json.loads((folder / STATE_FILE).read_text())
        adapter = load_file(str(folder / ADAPTER_FILE), device=str(self.device))
        set_peft_model_state_dict(self.model, adapter)
        tensors = load_file(str(folder / OPTIMIZER_FILE))
        torch.set_rng_state(tensors.pop("rng.cpu"))
        self.optimizer.load_state_dict(_unflatten_optimizer(tensors, state["param_groups"]))
        self.tokens_seen = int(state.get("tokens_seen", 0))
        return state


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    state_dict = optimizer.state_dict()
    tensors = {
        f"state.{index}.{name}": value.detach().contiguous().cpu()
        for index, entry in state_dict["state"].items()
        for name, value in entry.items()
        if isinstance(value, torch.Tensor)
    }
    return tensors, state_dict["param_groups"]


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": groups}
