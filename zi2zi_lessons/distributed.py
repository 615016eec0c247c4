"""Where training runs: the device, the processes, each process's share of a batch.

``torchrun --nproc_per_node=N -m zi2zi_lessons train ...`` starts N processes; each
one trains with ``DistributedDataParallel`` (gloo on a CPU, NCCL on CUDA)::

    the global batch of step s (the same on every process: a function of seed and s)
    ┌──────────────────────── --batch-size pairs ────────────────────────┐
    │  rank 0's share  │  rank 1's share  │  ...  │  rank N-1's share    │
    └──────────────────┴──────────────────┴───────┴──────────────────────┘
          forward, loss, backward on its own share, on every process
                                    │
          DDP averages the gradients over the processes (all-reduce)
                                    │
          every process takes the same optimiser step: the weights stay equal

The losses are means over the batch and the shares are equal, so the averaged
gradient is the gradient of the whole batch: N processes end where one process
ends, up to the order of floating-point sums. One thing would break that: batch
norm, which normalises with the statistics of the batch it sees. Each process would
see only its share, so ``synchronise_batch_norm`` replaces every ``BatchNorm2d``
with one whose statistics are summed over all processes (PyTorch's
``SyncBatchNorm`` on CUDA; on a CPU, where PyTorch's refuses to run,
``ProcessGroupBatchNorm2d``). Instance norm has no batch statistics.

Only rank 0 writes files (``is_main``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DEVICES",
    "pick_device",
    "cuda_problem",
    "Processes",
    "start",
    "stop",
    "share",
    "is_main",
    "ProcessGroupBatchNorm2d",
    "synchronise_batch_norm",
]

DEVICES = ("auto", "cpu", "cuda")


def cuda_problem() -> str | None:
    """Why CUDA cannot be used here, or ``None`` if it can."""
    if torch.cuda.is_available():
        return None
    build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
    return f"no CUDA GPU is usable here (torch {torch.__version__} is {build}); use 'cpu' or 'auto'"


def pick_device(name: str = "auto") -> torch.device:
    """``torch.device`` for ``"auto"`` (CUDA if this machine has it, else the CPU), ``"cpu"`` or ``"cuda"``.

    ``"cuda"`` on a machine without a usable GPU is an error, not a quiet CPU run.
    """
    if name not in DEVICES:
        raise ValueError(f"device={name!r} is not accepted: use one of {', '.join(map(repr, DEVICES))}")
    problem = cuda_problem()
    if name == "cpu" or (name == "auto" and problem is not None):
        return torch.device("cpu")
    if problem is not None:
        raise ValueError(f"device='cuda': {problem}")
    return torch.device("cuda")


def share(batch_size: int, rank: int, world_size: int) -> slice:
    """The positions of rank ``rank``'s share in a global batch of ``batch_size``: equal, consecutive shares."""
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size={world_size!r} is not accepted: give a positive integer")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank={rank!r} is not accepted: ranks are 0..{world_size - 1}")
    if batch_size % world_size:
        below, above = batch_size // world_size * world_size, (batch_size // world_size + 1) * world_size
        nearest = f"{above}" if below == 0 else f"{below} or {above}"
        raise ValueError(f"batch size {batch_size} is the global batch: it must divide evenly among the {world_size} "
                         f"processes (each takes an equal share); use {nearest}")
    size = batch_size // world_size
    return slice(rank * size, (rank + 1) * size)


@dataclass(frozen=True)
class Processes:
    """This process's place in a run: its rank among ``world_size`` processes and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that prints and writes files."""
        return self.rank == 0

    def share(self, batch_size: int) -> slice:
        return share(batch_size, self.rank, self.world_size)


def _launched_by_torchrun() -> bool:
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"))


def start(device: str = "auto") -> Processes:
    """This process's ``Processes``; under torchrun, after joining the process group.

    Alone (no torchrun): rank 0 of 1, nothing started. Under torchrun: the process
    group with gloo (CPU) or NCCL (CUDA, one GPU per process: ``cuda:LOCAL_RANK``).
    """
    chosen = pick_device(device)
    if not _launched_by_torchrun():
        return Processes(device=chosen)
    rank, world_size, local_rank = (int(os.environ[name]) for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    if chosen.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"process {rank} has LOCAL_RANK {local_rank}, but this machine has "
                             f"{torch.cuda.device_count()} CUDA GPUs: start at most that many processes per machine")
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return Processes(rank=rank, world_size=world_size, local_rank=local_rank, device=chosen)


def stop() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def is_main() -> bool:
    """True unless this process is a rank other than 0 of a started process group."""
    return not dist.is_initialized() or dist.get_rank() == 0


# ------------------------------------------------------------------ batch norm over all processes
class _SumOverProcesses(torch.autograd.Function):
    """``all_reduce(SUM)`` that gradients flow through.

    Every process gets ``y = x_0 + ... + x_{N-1}``; the gradient that reaches each
    ``x_r`` is the sum of every process's gradient with respect to ``y``.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


class ProcessGroupBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` whose training statistics are those of the global batch, over all processes.

    ::

        mean = sum over processes of sum(x)          / global count      (all-reduce)
        var  = sum over processes of sum((x - mean)²) / global count      (all-reduce)
        y    = (x - mean) / sqrt(var + eps) * weight + bias

    Running statistics move as ``BatchNorm2d``'s do (momentum, unbiased variance), so
    they are the same on every process. In eval mode, or outside a process group, it
    is ``BatchNorm2d``. The same parameters and buffers, so state dicts carry over.
    Works on any device with any backend; it exists because PyTorch's ``SyncBatchNorm``
    only runs on GPUs.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        use_batch_statistics = self.training or not self.track_running_stats
        if not use_batch_statistics or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        self._check_input_dim(x)
        dims = (0, 2, 3)
        count = torch.tensor(float(x.numel() // x.shape[1]), dtype=x.dtype, device=x.device)
        dist.all_reduce(count)
        mean = _SumOverProcesses.apply(x.sum(dims)) / count
        centred = x - mean[None, :, None, None]
        variance = _SumOverProcesses.apply(centred.square().sum(dims)) / count
        if self.training and self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(variance.detach() * count / (count - 1), momentum)
        normalised = centred * torch.rsqrt(variance + self.eps)[None, :, None, None]
        if self.affine:
            normalised = normalised * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return normalised


def synchronise_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with every ``BatchNorm2d`` computing its statistics over all processes.

    CUDA: ``torch.nn.SyncBatchNorm``; elsewhere ``ProcessGroupBatchNorm2d``. The new
    layers take over the same parameter objects (an optimiser built before still
    updates them) and buffers. Returns the module (replaced, if it is itself a batch norm).
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, ProcessGroupBatchNorm2d):
        replacement = ProcessGroupBatchNorm2d(module.num_features, module.eps, module.momentum, module.affine,
                                              module.track_running_stats, device=device)
        if module.affine:
            replacement.weight, replacement.bias = module.weight, module.bias
        if module.track_running_stats:
            replacement.running_mean, replacement.running_var = module.running_mean, module.running_var
            replacement.num_batches_tracked = module.num_batches_tracked
        replacement.train(module.training)
        return replacement
    for name, child in list(module.named_children()):
        module.add_module(name, synchronise_batch_norm(child, device))
    return module
