"""Synchronized batch norm (``model.norm = "sync_batch"``): batch statistics over all ranks' shards.

Under data-parallel training (nnopt.train.distributed) each rank sees only its shard of the global
batch. Plain batch norm normalizes with the shard's statistics; this layer all-reduces each
channel's count and sum, then the sum of squared deviations from the global mean (two all-reduces,
no E[x²] − E[x]² cancellation), so μ_B and σ²_B are the whole batch's — one process's batch norm,
up to float rounding. The all-reduces are differentiable (`AllReduceSum`: the gradient of a sum over
ranks is the sum of the ranks' gradients), so the backward pass carries every rank's gradient
through the shared statistics. Running statistics follow
:class:`~nnopt.nn.batchnorm.BatchNorm` (same conventions, unbiased variance over the global count).
Outside a process group (one process, or eval mode) it is BatchNorm. Works on gloo (CPU) and nccl.
"""
from __future__ import annotations

import torch
import torch.distributed as dist

from ..registry import NORMS
from .batchnorm import BatchNorm
from .norms import _per_step


class AllReduceSum(torch.autograd.Function):
    """y = Σ_ranks x, differentiable: ∂L/∂x on each rank = Σ_ranks ∂L_r/∂y."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def all_reduce(x: torch.Tensor) -> torch.Tensor:
    return AllReduceSum.apply(x)


class SyncBatchNorm(BatchNorm):
    """BatchNorm whose training statistics span every rank of the default process group."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        xc = x.movedim(1, -1).to(self.running_mean.dtype)
        flat = xc.reshape(-1, self.features)
        count_sum = all_reduce(torch.cat((flat.new_full((1,), float(len(flat))), flat.sum(0))))
        n = int(count_sum[0].item())
        if n < 2:
            raise ValueError(f"SyncBatchNorm needs more than one value per channel over all ranks; got {n}")
        mean = count_sum[1:] / n
        var = all_reduce(((flat - mean) ** 2).sum(0)) / n
        with torch.no_grad():
            w = self.new_weight
            self.running_mean.lerp_(mean, w)
            self.running_var.lerp_(var * (n / (n - 1)), w)
            self.num_batches_tracked += 1
        y = (xc - mean) * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight + self.bias
        return y.movedim(-1, 1)


@NORMS.register("sync_batch", skip=2, min_batch=2, across_ranks=True)
def sync_batch_norm(features: int, kind: str):
    """Batch norm with statistics over the global batch of all data-parallel ranks (= "batch" in one process)"""
    return _per_step(SyncBatchNorm(features), kind)
