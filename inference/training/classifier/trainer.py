"""The classifier's step loop: class-weighted cross-entropy, AdamW, dynamic padding, checkpoints in safetensors.

Database-free, like the LoRA trainer: the pipeline calls ``train_step`` and decides what happens between
steps. The order of the rows in each epoch is a pure function of (seed, epoch), so a run resumed from a
checkpoint at any step sees exactly the batches it would have seen.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inference.training.classifier.model import (
    MeanPoolClassifier,
    bf16_is_fast,
    bottom_states,
    collate,
    top_logits,
)
from inference.training.trainer import MAX_GRAD_NORM, _flatten_optimizer, _unflatten_optimizer
from products.training.hyperparameters import HyperParameters, learning_rate_at

WEIGHTS_FILE = "weights.safetensors"
BEST_FILE = "best.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "trainer_state.json"
#: The head learns this many times faster than the encoder: it is small and starts from the baseline.
HEAD_LR_FACTOR = 10.0
#: Length bucketing: each epoch's shuffled rows are cut into pools of this many batches, each pool sorted by
#: length and cut into batches, then the batches shuffled. Texts of like length share a batch, so dynamic
#: padding pads little (30 % of batch tokens were padding on the support sample without it), while every
#: batch still draws from a random slice of the data.
BUCKET_BATCHES = 50
#: Whether the encoder's word-embedding table (30,522 × 384: half of MiniLM's weights) is fine-tuned too. Frozen:
#: its dense gradient, clipping and AdamW update cost a sixth of a CPU step (×1.20 training tokens/s measured,
#: tests/benchmarks/bench_classifier.py --train-speed), and AdamW's weight decay no longer shrinks, every step,
#: the rows of the many words a labelled set never contains. Position embeddings and all layers still learn.
TRAIN_WORD_EMBEDDINGS = False
WEIGHT_DECAY = 0.01
#: How many of the encoder's top transformer layers are fine-tuned (None: all of them). With fewer, the embeddings
#: and the lower layers are frozen, so their output for a text never changes: it is computed once, in the text's
#: first batch, kept in memory (up to ``CACHE_MAX_TEXTS`` texts) and later steps run only the top layers.
#: Top 3 of 6: ×1.50 training tokens/s in the first epoch, ×1.79 in later ones, and held-out accuracy 0.973 vs
#: 0.970 training all of them (one SpamAssassin fold, 400 rows; tests/benchmarks/bench_classifier.py). Top 2 and 1
#: were faster (×2.56, ×5.62) but lost 2.0 and 1.2 points there.
TRAIN_TOP_LAYERS: int | None = 3
#: Above this many training texts the lower layers' states are recomputed (without gradients) each step instead
#: of kept: 20k texts of 64 tokens × 384 floats is ~2 GB.
CACHE_MAX_TEXTS = 20_000


def bf16_training_is_native(device: str) -> bool:
    """Whether bf16 autocast speeds training up here: a CPU with AVX512-BF16/AMX, or a GPU that has bf16 (Ampere
    on). Elsewhere bf16 is emulated, slower than fp32, so the trainer stays in fp32."""
    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return bf16_is_fast(device)


@dataclass(frozen=True, slots=True)
class StepResult:
    step: int  # 1-based
    loss: float
    tokens: int
    seconds: float


def class_weights(y: list[int], num_labels: int) -> torch.Tensor:
    """scikit-learn's "balanced" weights (n / (labels × count)), so a rare label counts as much as a common one."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(y)
    weights = np.ones(num_labels)
    weights[present] = compute_class_weight("balanced", classes=present, y=np.asarray(y))
    return torch.tensor(weights, dtype=torch.float32)


class ClassifierTrainer:
    def __init__(self, model: MeanPoolClassifier, ids: list[list[int]], y: list[int], *, num_labels: int,
                 params: HyperParameters, device: str, pad_id: int,
                 train_word_embeddings: bool = TRAIN_WORD_EMBEDDINGS,
                 top_layers: int | None = TRAIN_TOP_LAYERS, bf16: bool | None = None) -> None:
        self.model, self.ids, self.y = model, ids, torch.tensor(y, dtype=torch.long)
        self.params, self.device, self.pad_id = params, device, pad_id
        self.steps_per_epoch = math.ceil(len(ids) / params.batch_size)
        self.loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights(y, num_labels).to(device))
        self.train_word_embeddings = train_word_embeddings
        self.bf16 = bf16_training_is_native(device) if bf16 is None else bf16
        self.factors = [1.0, HEAD_LR_FACTOR]
        self.tokens_seen = 0
        self._epoch_batches: tuple[int, list[list[int]]] | None = None
        self._configure(top_layers)

    def _configure(self, top_layers: int | None) -> None:
        """Which weights learn, and an optimizer over them (again on resume, if the checkpoint chose otherwise)."""
        model, layers = self.model, len(self.model.encoder.encoder.layer)
        self.top_layers = None if top_layers is None or top_layers >= layers else top_layers
        self.frozen_layers = 0 if self.top_layers is None else layers - self.top_layers
        for parameter in model.encoder.parameters():
            parameter.requires_grad_(True)
        model.encoder.get_input_embeddings().weight.requires_grad_(self.train_word_embeddings)
        if self.frozen_layers:
            for module in (model.encoder.embeddings, *model.encoder.encoder.layer[:self.frozen_layers]):
                module.requires_grad_(False)
        self._bottom: dict[int, torch.Tensor] = {}  # row → its frozen layers' states; never checkpointed
        head = list(model.head.parameters())
        head_ids = {id(p) for p in head}
        encoder = [p for p in model.parameters() if id(p) not in head_ids and p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            [{"params": encoder}, {"params": head}], lr=self.params.learning_rate, weight_decay=WEIGHT_DECAY
        )

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.params.epochs

    def epoch_of(self, step: int) -> int:
        """The 1-based epoch a 1-based step ends in."""
        return math.ceil(step / self.steps_per_epoch)

    def batch(self, step_index: int) -> list[int]:
        epoch, k = divmod(step_index, self.steps_per_epoch)
        if self._epoch_batches is None or self._epoch_batches[0] != epoch:
            self._epoch_batches = (epoch, self.bucketed_batches(epoch))
        return self._epoch_batches[1][k]

    def bucketed_batches(self, epoch: int) -> list[list[int]]:
        """The epoch's batches, length-bucketed (see ``BUCKET_BATCHES``); a pure function of (seed, epoch)."""
        rng = np.random.default_rng([self.params.seed, epoch])
        order = rng.permutation(len(self.ids)).tolist()
        size, pool = self.params.batch_size, self.params.batch_size * BUCKET_BATCHES
        batches = []
        for start in range(0, len(order), pool):
            rows = sorted(order[start:start + pool], key=lambda i: len(self.ids[i]))
            batches += [rows[i:i + size] for i in range(0, len(rows), size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def train_step(self, step_index: int) -> StepResult:
        started = time.perf_counter()
        self.model.train()
        indices = self.batch(step_index)
        input_ids, mask = collate([self.ids[i] for i in indices], pad_id=self.pad_id, device=self.device)
        rate = learning_rate_at(step_index, total=self.total_steps, params=self.params)
        for group, factor in zip(self.optimizer.param_groups, self.factors, strict=True):
            group["lr"] = rate * factor
        if self.frozen_layers:
            hidden = self.bottom(indices, input_ids, mask)
            with self.autocast():
                logits = top_logits(self.model, hidden, mask, start=self.frozen_layers)
        else:
            with self.autocast():
                logits = self.model(input_ids, mask)
        loss = self.loss_fn(logits.float(), self.y[indices].to(self.device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], MAX_GRAD_NORM)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        tokens = int(mask.sum())
        self.tokens_seen += tokens
        return StepResult(step_index + 1, loss.item(), tokens, time.perf_counter() - started)

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast of the forward pass (its backward follows) where ``self.bf16``; the weights, their
        gradients and AdamW's state stay fp32, so only the matmuls' precision changes, never the updates'."""
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16)

    @torch.no_grad()
    def bottom(self, indices: list[int], input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The frozen layers' states of a batch (padded like ``input_ids``): from the cache, computing what is missing.

        Computed in eval mode (no dropout), so a text's states are the same whichever batch first computed them.
        """
        missing = [row for row, i in enumerate(indices) if i not in self._bottom]
        if len(missing) == len(indices) or len(self.ids) > CACHE_MAX_TEXTS:
            computed = self._bottom_of(input_ids, mask)
            if len(self.ids) > CACHE_MAX_TEXTS:
                return computed
            for row, i in enumerate(indices):
                self._bottom[i] = computed[row, :len(self.ids[i])].clone()
            return computed
        if missing:
            part = self._bottom_of(input_ids[missing], mask[missing])
            for j, row in enumerate(missing):
                self._bottom[indices[row]] = part[j, :len(self.ids[indices[row]])].clone()
        first = self._bottom[indices[0]]
        hidden = torch.zeros((len(indices), mask.shape[1], first.shape[-1]), dtype=first.dtype, device=self.device)
        for row, i in enumerate(indices):
            hidden[row, :len(self.ids[i])] = self._bottom[i]
        return hidden

    def _bottom_of(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        training = self.model.training
        self.model.eval()
        try:
            with self.autocast():
                return bottom_states(self.model, input_ids, mask, layers=self.frozen_layers)
        finally:
            self.model.train(training)

    # Checkpoints: safetensors and JSON only, so resuming never unpickles anything.

    def save_state(self, folder: Path, *, step: int, best: dict[str, torch.Tensor] | None,
                   extra: dict[str, Any]) -> None:
        from safetensors.torch import save_file

        save_file(_cpu(self.model.state_dict()), str(folder / WEIGHTS_FILE))
        if best is not None:
            save_file(best, str(folder / BEST_FILE))
        tensors, groups = _flatten_optimizer(self.optimizer)
        tensors["rng.cpu"] = torch.get_rng_state()
        save_file(tensors, str(folder / OPTIMIZER_FILE))
        state = {"step": step, "tokens_seen": self.tokens_seen, "param_groups": groups, "top_layers": self.top_layers,
                 **extra}
        (folder / STATE_FILE).write_text(json.dumps(state))

    def load_state(self, folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
        """Restore weights, optimizer and random state; returns (the JSON state, the best weights so far)."""
        from safetensors.torch import load_file

        state = json.loads((folder / STATE_FILE).read_text())
        if state.get("top_layers") != self.top_layers:  # the run began under another setting (or older code: all)
            self._configure(state.get("top_layers"))
        self.model.load_state_dict(load_file(str(folder / WEIGHTS_FILE), device=str(self.device)))
        tensors = load_file(str(folder / OPTIMIZER_FILE))
        torch.set_rng_state(tensors.pop("rng.cpu"))
        self.optimizer.load_state_dict(_unflatten_optimizer(tensors, state["param_groups"]))
        self.tokens_seen = int(state.get("tokens_seen", 0))
        best = load_file(str(folder / BEST_FILE)) if (folder / BEST_FILE).is_file() else None
        return state, best


def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().contiguous().cpu().clone() for name, tensor in state.items()}


def snapshot(model: MeanPoolClassifier) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights (the best epoch's, kept for early stopping)."""
    return _cpu(model.state_dict())
