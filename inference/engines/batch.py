"""A growing batch of decoding sequences sharing one key/value cache.

Rows are left-padded: every row's newest token sits in the same cache column, so one forward
pass with a `[batch, 1]` input decodes all of them. A boolean mask hides each row's padding and
per-row position ids keep rotary positions exact, so a row computes what it would alone.

Memory is reserved ahead (columns grow by half, rows double), so a decode step writes one
column in place instead of concatenating the whole cache as transformers' DynamicCache does.
Joining and leaving copy one row; the left edge is trimmed when padding piles up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import torch
from transformers.cache_utils import Cache, DynamicLayer

T = TypeVar("T")

COLUMN_ALIGN = 64
# Shift the cache left only when this many leading columns are padding in every row.
TRIM_AT = 64


class DecodeBatch(Generic[T]):
    """Rows of (item, cache) decoded together; `items[i]` is the payload of row `i`."""

    def __init__(
        self,
        *,
        num_layers: int,
        num_kv_heads: int,
        head_dim: int,
        dtype: torch.dtype,
        device: torch.device,
        max_rows: int,
    ) -> None:
        self.num_layers = num_layers
        self.num_kv_heads = num_kv_heads
        self.head_dim = head_dim
        self.dtype = dtype
        self.device = device
        self.max_rows = max_rows
        self.items: list[T] = []
        self.length = 0  # cache columns in use, shared by all rows
        self.padded = False  # whether any row has padding to hide (else attention needs no mask)
        self._alloc(rows=min(4, max_rows), columns=COLUMN_ALIGN)
        self.cache = _BatchCache(self)

    def __len__(self) -> int:
        return len(self.items)

    @torch.inference_mode()
    def add(self, item: T, prompt_kv: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Join a prefilled sequence; `prompt_kv` is its per-layer (keys, values), batch 1."""
        rows = len(self.items)
        if rows >= self.max_rows:
            raise RuntimeError(f"The batch is full ({self.max_rows} rows).")
        keys = torch.stack([k[0] for k, _ in prompt_kv])  # [layers, heads, L, dim]
        values = torch.stack([v[0] for _, v in prompt_kv])
        size = keys.shape[-2]
        self._reserve(rows=rows + 1, columns=max(size, self.length) + 1)
        if size > self.length:
            self._shift_right(size - self.length)
        start = self.length - size
        self.keys[:, rows, :, start : self.length] = keys
        self.values[:, rows, :, start : self.length] = values
        self.mask[rows, :start] = False
        self.mask[rows, start : self.length] = True
        self.positions[rows] = size
        self.items.append(item)
        self.padded = self._any_padding()

    @torch.inference_mode()
    def remove(self, item: T) -> None:
        """Leave the batch; the last row moves into the freed slot."""
        row = self.items.index(item)
        last = len(self.items) - 1
        if row != last:
            self.keys[:, row, :, : self.length] = self.keys[:, last, :, : self.length]
            self.values[:, row, :, : self.length] = self.values[:, last, :, : self.length]
            self.mask[row, : self.length] = self.mask[last, : self.length]
            self.positions[row] = self.positions[last]
            self.items[row] = self.items[last]
        self.items.pop()
        self._trim_left()
        self.padded = self._any_padding()

    @torch.inference_mode()
    def step(self, model: Any, token_ids: Sequence[int]) -> torch.Tensor:
        """One forward pass for all rows, each fed its last token; returns `[rows, vocab]`."""
        rows = len(self.items)
        self._reserve(rows=rows, columns=self.length + 1)
        self.mask[:rows, self.length] = True
        input_ids = torch.tensor(token_ids, dtype=torch.long, device=self.device).view(rows, 1)
        out = model(
            input_ids=input_ids,
            # A 4-D mask is used as given: no per-step mask building inside transformers. With no
            # padding in any row there is nothing to hide, and attention without a mask is faster.
            attention_mask=self.mask[:rows, None, None, : self.length + 1] if self.padded else None,
            position_ids=self.positions[:rows, None],
            past_key_values=self.cache,
            use_cache=True,
        )
        self.length += 1
        self.positions[:rows] += 1
        return out.logits[:, -1, :]

    def _any_padding(self) -> bool:
        # Checked when rows join or leave, never per decode step (on a GPU it would sync every step).
        rows = len(self.items)
        return rows > 0 and not bool(self.mask[:rows, : self.length].all())

    def _write(
        self, layer: int, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        rows, end = len(self.items), self.length + keys.shape[-2]
        self.keys[layer, :rows, :, self.length : end] = keys
        self.values[layer, :rows, :, self.length : end] = values
        return self.keys[layer, :rows, :, :end], self.values[layer, :rows, :, :end]

    def _alloc(self, *, rows: int, columns: int) -> None:
        shape = (self.num_layers, rows, self.num_kv_heads, columns, self.head_dim)
        self.keys = torch.zeros(shape, dtype=self.dtype, device=self.device)
        self.values = torch.zeros(shape, dtype=self.dtype, device=self.device)
        self.mask = torch.zeros((rows, columns), dtype=torch.bool, device=self.device)
        self.positions = torch.zeros(rows, dtype=torch.long, device=self.device)

    def _reserve(self, *, rows: int, columns: int) -> None:
        have_rows, have_columns = self.keys.shape[1], self.keys.shape[3]
        if rows <= have_rows and columns <= have_columns:
            return
        new_rows = have_rows
        while new_rows < rows:
            new_rows = min(2 * new_rows, self.max_rows)
        new_columns = have_columns
        if columns > have_columns:
            wanted = max(columns, have_columns + have_columns // 2)
            new_columns = -(-wanted // COLUMN_ALIGN) * COLUMN_ALIGN
        old = (self.keys, self.values, self.mask, self.positions)
        self._alloc(rows=new_rows, columns=new_columns)
        used, n = self.length, len(self.items)
        self.keys[:, :n, :, :used] = old[0][:, :n, :, :used]
        self.values[:, :n, :, :used] = old[1][:, :n, :, :used]
        self.mask[:n, :used] = old[2][:n, :used]
        self.positions[:n] = old[3][:n]

    def _shift_right(self, by: int) -> None:
        n, used = len(self.items), self.length
        if n:
            self.keys[:, :n, :, by : by + used] = self.keys[:, :n, :, :used].clone()
            self.values[:, :n, :, by : by + used] = self.values[:, :n, :, :used].clone()
            self.mask[:n, by : by + used] = self.mask[:n, :used].clone()
            self.mask[:n, :by] = False
        self.length = used + by

    def _trim_left(self) -> None:
        n, used = len(self.items), self.length
        if n == 0:
            self.length = 0
            return
        live = self.mask[:n, :used].any(dim=0)
        first = int(live.to(torch.int8).argmax())
        if first < TRIM_AT:
            return
        self.keys[:, :n, :, : used - first] = self.keys[:, :n, :, first:used].clone()
        self.values[:, :n, :, : used - first] = self.values[:, :n, :, first:used].clone()
        self.mask[:n, : used - first] = self.mask[:n, first:used].clone()
        self.length = used - first


class _BatchLayer(DynamicLayer):
    """Routes one layer's cache update into the batch's shared buffers."""

    def __init__(self, batch: DecodeBatch[Any], index: int) -> None:
        super().__init__()
        self.batch = batch
        self.index = index
        self.is_initialized = True

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        pass

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.batch._write(self.index, key_states, value_states)

    def get_seq_length(self) -> int:
        return self.batch.length

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.batch.length + query_length, 0


class _BatchCache(Cache):
    """The `past_key_values` object the model sees: one `_BatchLayer` per decoder layer."""

    def __init__(self, batch: DecodeBatch[Any]) -> None:
        super().__init__(layers=[_BatchLayer(batch, i) for i in range(batch.num_layers)])
