"""The loss on reply tokens: batches padded on the right, prompt and padding masked out.

The vocabulary projection is applied only where a reply token is predicted: SmolLM2's output layer
is about a fifth of the model's work per token, and on a short reply after a long prompt most of
those positions would be thrown away by the mask anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from inference.training.examples import IGNORE_INDEX, TokenizedExample


def collate(
    examples: Sequence[TokenizedExample], indices: Sequence[int], *, pad_id: int, device: Any
) -> dict[str, torch.Tensor]:
    """input_ids, attention_mask and labels of one batch, padded to its longest example."""
    chosen = [examples[i] for i in indices]
    width = max(example.length for example in chosen)
    input_ids = torch.full((len(chosen), width), pad_id, dtype=torch.long)
    labels = torch.full((len(chosen), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(chosen), width), dtype=torch.long)
    for row, example in enumerate(chosen):
        ids = torch.from_numpy(example.input_ids.astype("int64"))
        input_ids[row, : example.length] = ids
        labels[row, example.prompt_length : example.length] = ids[example.prompt_length :]
        attention_mask[row, : example.length] = 1
    return {
        "input_ids": input_ids.to(device, non_blocking=True),
        "attention_mask": attention_mask.to(device, non_blocking=True),
        "labels": labels.to(device, non_blocking=True),
    }


def _causal_lm(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _projects_plainly(causal_lm: Any) -> bool:
    """True when logits are exactly ``lm_head(hidden)``: no soft-capping or scaling in ``forward``."""
    config = causal_lm.config.get_text_config(decoder=True)
    return not any(getattr(config, name, None) for name in ("final_logit_softcapping", "logit_scale"))


def reply_loss_sum(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """(sum of the reply tokens' cross-entropy, number of reply tokens) for one batch."""
    causal_lm = _causal_lm(model)
    targets = batch["labels"][:, 1:]
    mask = targets != IGNORE_INDEX
    count = int(mask.sum())
    if _projects_plainly(causal_lm):
        hidden = causal_lm.get_decoder()(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
        ).last_hidden_state
        logits = causal_lm.get_output_embeddings()(hidden[:, :-1][mask])
    else:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
        logits = logits[:, :-1][mask]
    loss = F.cross_entropy(logits.float(), targets[mask], reduction="sum")
    return loss, count


@torch.no_grad()
def mean_reply_loss(
    model: Any, examples: Sequence[TokenizedExample], *, batch_size: int, pad_id: int, device: Any
) -> tuple[float, int]:
    """(mean cross-entropy per reply token, reply tokens) over ``examples``, without training."""
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    order = sorted(range(len(examples)), key=lambda i: examples[i].length)  # little padding
    try:
        for start in range(0, len(order), batch_size):
            batch = collate(examples, order[start : start + batch_size], pad_id=pad_id, device=device)
            loss, count = reply_loss_sum(model, batch)
            total += float(loss)
            tokens += count
    finally:
        model.train(was_training)
    return (total / tokens if tokens else float("nan")), tokens
