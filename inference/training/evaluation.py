"""The evaluation report: base model against tuned model on the same held-out rows.

Both come from one model object (peft's ``disable_adapter`` gives the base back), so the comparison
costs no second load. Losses cover every held-out example; the side-by-side samples (greedy, a few
tokens on CPU) and their BLEU/ROUGE cover the first ``eval_samples`` of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from inference.training.examples import TokenizedExample, prompt_ids
from inference.training.losses import mean_reply_loss
from inference.training.metrics import text_scores
from products.kinds.base import TrainingConversation
from products.training.hyperparameters import HyperParameters

#: Above this mean loss the perplexity is shown capped: e^30 already means "knows nothing".
MAX_LOSS_FOR_PERPLEXITY = 30.0


def perplexity(loss: float) -> float:
    return math.exp(min(loss, MAX_LOSS_FOR_PERPLEXITY))


@torch.no_grad()
def greedy_reply(
    model: Any, tokenizer: Any, messages: list[dict[str, str]], *, max_new_tokens: int, device: str
) -> str:
    ids = torch.tensor([prompt_ids(tokenizer, messages)], device=device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    output = model.generate(
        input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, do_sample=False,
        pad_token_id=pad, use_cache=True,
    )
    return tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True).strip()


def _prompt_text(conversation: TrainingConversation) -> str:
    return next((m["content"] for m in reversed(conversation.messages) if m["role"] == "user"), "")


def evaluate(
    model: Any, tokenizer: Any, *, examples: Sequence[TokenizedExample], conversations: Sequence[TrainingConversation],
    params: HyperParameters, device: str, pad_id: int,
) -> dict[str, Any]:
    """The EvaluationReport fields: the LoRA metrics (loss, perplexity, BLEU, ROUGE) of both models, and samples."""
    batch = max(1, params.batch_size)
    sampled = list(conversations[: params.eval_samples])
    with model.disable_adapter():
        base_loss, tokens = mean_reply_loss(model, examples, batch_size=batch, pad_id=pad_id, device=device)
        base_texts = [_sample(model, tokenizer, c, params, device) for c in sampled]
    tuned_loss, _ = mean_reply_loss(model, examples, batch_size=batch, pad_id=pad_id, device=device)
    tuned_texts = [_sample(model, tokenizer, c, params, device) for c in sampled]
    references = [c.reply for c in sampled]
    base_scores, tuned_scores = text_scores(base_texts, references), text_scores(tuned_texts, references)
    return {
        "examples": len(examples),
        "metrics": {
            "base": {"loss": base_loss, "perplexity": perplexity(base_loss), **base_scores},
            "tuned": {"loss": tuned_loss, "perplexity": perplexity(tuned_loss), **tuned_scores},
        },
        "base_loss": base_loss,
        "tuned_loss": tuned_loss,
        "base_perplexity": perplexity(base_loss),
        "tuned_perplexity": perplexity(tuned_loss),
        "scores": {"base": base_scores, "tuned": tuned_scores,
                   "samples": len(sampled), "reply_tokens": tokens},
        "samples": [
            {"prompt": _prompt_text(c), "base": base, "tuned": tuned, "reference": c.reply, "passages": c.passages}
            for c, base, tuned in zip(sampled, base_texts, tuned_texts, strict=True)
        ],
    }


def _sample(
    model: Any, tokenizer: Any, conversation: TrainingConversation, params: HyperParameters, device: str
) -> str:
    model.eval()
    return greedy_reply(model, tokenizer, conversation.messages, max_new_tokens=params.sample_tokens, device=device)
