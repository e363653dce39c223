"""The classifier: the MiniLM encoder, mean pooling, L2 normalisation and a linear head — trained and served.

Why not ``AutoModelForSequenceClassification``: for BERT models it puts the head on the ``[CLS]``
pooler, which all-MiniLM-L6-v2 never trained (it was trained as sentence-transformers trains it:
mean of the token vectors, then normalised). A head on that mean-pooled, normalised embedding reads
the very vector the frozen baseline, retrieval and recommendations use, so fine-tuning starts from
a representation that already separates texts, and the head can start from the baseline's logistic
regression (linear probing, then fine-tuning: Kumar et al., 2022), which keeps a short CPU run from
first undoing the encoder. It is sentence-transformers' recipe written as one small ``nn.Module``
over transformers' ``AutoModel``: no second library to load, and the whole module is one
safetensors state dict.

An artifact folder holds ``model.safetensors`` (encoder and head), the encoder's ``config.json``,
the tokenizer files and ``classifier.json`` (labels in head order, temperature, maximum length).
Weights load with safetensors only, never pickle.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

WEIGHTS_FILE = "model.safetensors"
META_FILE = "classifier.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


@dataclass(frozen=True)
class ClassifierMeta:
    """What serving needs besides the weights (``classifier.json``; ModelArtifact.metadata holds the same)."""

    labels: list[str]  # in the head's order
    temperature: float  # logits are divided by it before the softmax (calibration)
    max_length: int  # tokens read per text; longer texts are cut
    encoder: str  # the base model id it was fine-tuned from

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MeanPoolClassifier(nn.Module):
    """Encoder → masked mean of token vectors → L2 normalise → dropout → linear head."""

    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.classify(self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state,
                             attention_mask)

    def classify(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits from the last layer's token states: mean pooling, normalisation, dropout, the head.

        Under bf16 training autocast this part still runs in fp32 (in the weights' dtype): the head starts from
        the baseline's logistic regression, whose large weights would turn bf16's rounding of the pooled vector
        into noisy logits (3.3 accuracy points lost on a SpamAssassin fold when it ran in bf16).
        """
        with torch.autocast(hidden.device.type, enabled=False):
            pooled = mean_pool(hidden.to(self.head.weight.dtype), attention_mask)
            return self.head(self.dropout(pooled))


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Masked mean of the token vectors, L2-normalised (sentence-transformers' pooling of all-MiniLM-L6-v2)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return nn.functional.normalize(pooled, p=2, dim=-1)


def load_encoder(model_dir: Path) -> nn.Module:
    from transformers import AutoModel

    return AutoModel.from_pretrained(model_dir, use_safetensors=True, add_pooling_layer=False)


def load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def new_classifier(model_dir: Path, num_labels: int, *, seed: int) -> MeanPoolClassifier:
    torch.manual_seed(seed)  # the head's initial weights (replaced by the baseline's when it has one)
    return MeanPoolClassifier(load_encoder(model_dir), num_labels)


def init_head(model: MeanPoolClassifier, weight, bias) -> None:
    """Start the head from a linear model fitted on the frozen embeddings (numpy arrays, labels × hidden)."""
    with torch.no_grad():
        model.head.weight.copy_(torch.as_tensor(weight, dtype=model.head.weight.dtype))
        model.head.bias.copy_(torch.as_tensor(bias, dtype=model.head.bias.dtype))


def encode(tokenizer: Any, texts: list[str], *, max_length: int) -> list[list[int]]:
    """Token ids of each text, cut at ``max_length`` (special tokens included); no padding yet."""
    return tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)["input_ids"]


def collate(ids: list[list[int]], *, pad_id: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad a batch to its own longest text (dynamic padding): (input_ids, attention_mask)."""
    longest = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return input_ids.to(device), mask.to(device)


@torch.inference_mode()
def batched(fn, model: MeanPoolClassifier, ids: list[list[int]], *, batch_size: int, pad_id: int,
            device: str) -> torch.Tensor:
    """``fn(model, input_ids, mask)`` over ``ids`` in batches (sorted by length to pad little), in input order."""
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    outputs: list[torch.Tensor | None] = [None] * len(ids)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        input_ids, mask = collate([ids[i] for i in chunk], pad_id=pad_id, device=device)
        result = fn(model, input_ids, mask).float().cpu()
        for row, index in enumerate(chunk):
            outputs[index] = result[row]
    return torch.stack(outputs) if outputs else torch.empty(0)


def logits_of(model, ids, *, batch_size: int, pad_id: int, device: str) -> torch.Tensor:
    return batched(lambda m, i, a: m(i, a), model, ids, batch_size=batch_size, pad_id=pad_id, device=device)


def embeddings_of(model, ids, *, batch_size: int, pad_id: int, device: str) -> torch.Tensor:
    return batched(lambda m, i, a: m.embed(i, a), model, ids, batch_size=batch_size, pad_id=pad_id, device=device)


def save_classifier(model: MeanPoolClassifier, *, folder: Path, model_dir: Path, meta: ClassifierMeta) -> None:
    """Write an artifact folder: weights (safetensors), encoder config, tokenizer, classifier.json."""
    from safetensors.torch import save_file

    state = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE))
    model.encoder.config.to_json_file(str(folder / "config.json"))
    for name in TOKENIZER_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, folder / name)
    (folder / META_FILE).write_text(json.dumps(meta.to_dict(), indent=1))


#: Serving precisions: fp32 as trained; bf16 weights and activations (fast where the CPU has AVX512-BF16/AMX,
#: or on a GPU); int8 dynamic quantisation of the encoder's Linear layers (CPU only). Head stays as trained.
PRECISIONS = ("fp32", "bf16", "int8")


def bf16_is_fast(device: str) -> bool:
    """Whether bf16 matmuls run natively here (a GPU, or a CPU with AVX512-BF16/AMX); emulated bf16 is slower."""
    if device.startswith("cuda"):
        return True
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch without oneDNN: assume not
        return False


def resolve_precision(precision: str, *, device: str) -> str:
    """``auto`` → bf16 where it is native, else fp32; a named precision as is (int8 needs the CPU)."""
    if precision == "auto":
        return "bf16" if bf16_is_fast(device) else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown classifier precision {precision!r}; choose auto, {', '.join(PRECISIONS)}.")
    if precision == "int8" and not device.startswith("cpu"):
        raise ValueError("int8 classifier serving runs on the CPU only; choose bf16 or fp32 on a GPU.")
    return precision


def for_serving(model: MeanPoolClassifier, precision: str) -> MeanPoolClassifier:
    """The model in a resolved serving precision (the weights on disk stay fp32 safetensors)."""
    if precision == "bf16":
        return model.to(torch.bfloat16)
    if precision == "int8":
        from torch.ao.quantization import quantize_dynamic

        model.encoder = quantize_dynamic(model.encoder, {nn.Linear}, dtype=torch.qint8)
    return model


def load_classifier(folder: Path, *, device: str) -> tuple[MeanPoolClassifier, Any, ClassifierMeta]:
    """An artifact folder back as (model in eval mode, tokenizer, meta): safetensors only."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel

    folder = Path(folder)
    meta = ClassifierMeta(**json.loads((folder / META_FILE).read_text()))
    encoder = AutoModel.from_config(AutoConfig.from_pretrained(folder), add_pooling_layer=False)
    model = MeanPoolClassifier(encoder, len(meta.labels))
    model.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
    model.to(device).eval()
    return model, load_tokenizer(folder), meta


# Split forward passes, for training only the top layers: the frozen bottom runs once per text (trainer's cache).

def bottom_states(model: MeanPoolClassifier, input_ids: torch.Tensor, attention_mask: torch.Tensor, *,
                  layers: int) -> torch.Tensor:
    """The hidden states after the embeddings and the first ``layers`` transformer layers."""
    hidden = model.encoder.embeddings(input_ids=input_ids)
    return _run_layers(model, hidden, attention_mask, model.encoder.encoder.layer[:layers])


def top_logits(model: MeanPoolClassifier, hidden: torch.Tensor, attention_mask: torch.Tensor, *,
               start: int) -> torch.Tensor:
    """Logits from hidden states after layer ``start``: the remaining layers, mean pooling, the head."""
    hidden = _run_layers(model, hidden, attention_mask, model.encoder.encoder.layer[start:])
    return model.classify(hidden, attention_mask)


def _run_layers(model: MeanPoolClassifier, hidden: torch.Tensor, attention_mask: torch.Tensor, layers) -> torch.Tensor:
    from transformers.masking_utils import create_bidirectional_mask

    mask = create_bidirectional_mask(config=model.encoder.config, inputs_embeds=hidden, attention_mask=attention_mask)
    for layer in layers:
        hidden = layer(hidden, mask)
    return hidden
