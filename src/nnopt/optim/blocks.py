"""Cache blocking for the eager path: run a chain of elementwise transforms on blocks of about
`BLOCK` elements instead of on all parameters at once, so the buffers one block's ``_foreach``
ops read and write stay in the CPU cache between ops instead of making a trip to memory per op.

A block is a list of whole small tensors, or flat views (``t.view(-1)[k·B:(k+1)·B]``) of a large
one, cut the same way in θ, g and every state buffer. Elementwise ops give the very same numbers
on any such cut (tested); a 0-d state of a cut tensor (a per-tensor number, as NAdam's Π_t) comes
whole with each of its pieces, and the transform must change it once per step. A chain that is
only ``tensorwise`` (a per-tensor norm, say: each output tensor depends on its own tensor as a
whole) is grouped the same way but never cut: a large tensor is a block of its own, so its
temporaries stay about one tensor in size instead of the size of all parameters. Non-contiguous tensors are not cut, devices other than the CPU not
blocked. ``per_tensor=True`` (torch's ``foreach=False``) yields one whole tensor at a time instead.
"""
from __future__ import annotations

from itertools import repeat
from typing import Iterator

import torch
from torch import Tensor

from .transforms import Transform

# elements: 512 KiB per float32 buffer, so the 4–5 buffers of a block stay in a 2 MiB L2 cache
# (cnn regime of bench/optim_step*.py: 2^17 against 2^18, adadelta 0.84 vs 0.91 of torch, nadam
# 0.75 vs 0.84, adamax 0.90–0.96 vs 1.02). Under 4 blocks in all the chain runs whole: cutting
# 500 tensors of 1,000 costs more Python than the cache saves.
BLOCK = 1 << 17

Block = tuple[list[Tensor], list[Tensor], dict[str, list[Tensor]]]


def blocks(transform: Transform, params: list[Tensor], grads: list[Tensor], state: dict[str, list[Tensor]],
           per_tensor: bool = False, numel: int | None = None) -> Iterator[Block]:
    """(params, grads, state) as blocks of about `BLOCK` elements each (whole tensors only for a
    `tensorwise` chain), or whole when blocking does not apply or does not pay (under four blocks
    in all; `numel`: their element count, where the caller knows it); one tensor each with
    `per_tensor`."""
    if per_tensor:
        for i in range(len(params)):
            yield [params[i]], [grads[i]], {k: [v[i]] for k, v in state.items()}
        return
    cut = getattr(transform, "elementwise", False)
    if (not (cut or getattr(transform, "tensorwise", False)) or params[0].device.type != "cpu"
            or (sum(p.numel() for p in params) if numel is None else numel) < 4 * BLOCK):
        yield params, grads, state
        return
    keys = list(state)
    batch: list[tuple[Tensor, ...]] = []
    size = 0
    for row in zip(params, grads, *state.values()):
        if cut and row[0].numel() > BLOCK and all(t.is_contiguous() for t in row):
            pieces = zip(*(t.view(-1).split(BLOCK) if t.ndim else repeat(t) for t in row))
        else:
            pieces = (row,)
        for piece in pieces:
            batch.append(piece)
            size += piece[0].numel()
            if size >= BLOCK:
                yield _columns(batch, keys)
                batch, size = [], 0
    if batch:
        yield _columns(batch, keys)


def by_shape(tensors: list[Tensor]) -> dict[tuple, list[int]]:
    """The positions of `tensors` by (shape, dtype, device): a tensorwise transform may run each
    bucket as one `stacked` tensor, a few kernels per distinct shape instead of per tensor."""
    out: dict[tuple, list[int]] = {}
    for i, t in enumerate(tensors):
        out.setdefault((t.shape, t.dtype, t.device), []).append(i)
    return out


def stacked(tensors: list[Tensor]) -> Tensor:
    """Tensors of one shape as one (k, …) tensor: a view when k = 1, else a copy."""
    return tensors[0].unsqueeze(0) if len(tensors) == 1 else torch.stack(tensors)


def _columns(rows: list[tuple[Tensor, ...]], keys: list[str]) -> Block:
    cols = [list(c) for c in zip(*rows)]
    return cols[0], cols[1], dict(zip(keys, cols[2:]))


__all__ = ["BLOCK", "blocks", "by_shape", "stacked"]
