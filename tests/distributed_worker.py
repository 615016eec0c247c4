"""Run under torchrun by tests/test_distributed.py (and alone, as the 1-process reference).

    python distributed_worker.py batchnorm OUT_DIR
        ProcessGroupBatchNorm2d, and plain BatchNorm2d, on this rank's share of a fixed
        batch; saves outputs, gradients and running statistics to OUT_DIR/batchnorm_rank{R}.pt.
    python distributed_worker.py cli OUT_DIR train ARGS...
        the command line itself, recording every batch the generator is given and the
        gradients of the first step's updates (OUT_DIR/seen_rank{R}.pt, R = "single"
        without torchrun).

With ZI2ZI_TEST_UNSYNCHRONISED=1 the command line leaves batch norm per process (the
control that shows what synchronising changes).
"""

import os
import sys

import torch


UNSYNCHRONISED = os.environ.get("ZI2ZI_TEST_UNSYNCHRONISED") == "1"  # the control: plain per-process batch norm


def batchnorm_case():
    """A batch of 8, the weights of a loss on it, and a BatchNorm2d with random affine parameters."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, 5, 5, generator=generator) * 3 + 1
    loss_weights = torch.randn(8, 3, 5, 5, generator=generator)
    layer = torch.nn.BatchNorm2d(3)
    torch.nn.init.uniform_(layer.weight, 0.5, 1.5, generator=generator)
    torch.nn.init.uniform_(layer.bias, -0.5, 0.5, generator=generator)
    return x, loss_weights, layer


def batchnorm_run(layer, x, loss_weights) -> dict:
    """Two training-mode passes (the running statistics move twice), a loss, its gradients."""
    x = x.clone().requires_grad_(True)
    outputs = [layer(x), layer(x * 2)]
    sum((output * loss_weights).sum() for output in outputs).backward()
    return {"type": type(layer).__name__, "output": outputs[0].detach(), "x_grad": x.grad,
            "weight_grad": layer.weight.grad, "bias_grad": layer.bias.grad,
            "running_mean": layer.running_mean, "running_var": layer.running_var}


def batchnorm(out_dir: str) -> int:
    from zi2zi_lessons import distributed

    processes = distributed.start("cpu")
    mine = processes.share(8)
    results = {"share": (mine.start, mine.stop)}
    for name in ("synchronised", "per_process"):
        x, loss_weights, layer = batchnorm_case()
        if name == "synchronised":
            layer = distributed.synchronise_batch_norm(layer, processes.device)
        results[name] = batchnorm_run(layer, x[mine], loss_weights[mine])
    torch.save(results, os.path.join(out_dir, f"batchnorm_rank{processes.rank}.pt"))
    distributed.stop()
    return 0


def record_training(first_updates: int = 3) -> dict:
    """Patch the package to record what training does: every batch the generator is given
    (``"seen"``) and, for the first ``first_updates`` optimiser updates, the gradients the
    optimiser steps with (``"gradients"``: after DDP has averaged them). Returns the record."""
    from zi2zi_lessons import training, unet

    record = {"seen": [], "gradients": []}
    forward_with_encoding = unet.UNetGenerator.forward_with_encoding
    update = training.Trainer._update

    def recording_forward(self, source, labels):
        record["seen"].append({"source": source.detach().clone(), "labels": labels.clone()})
        return forward_with_encoding(self, source, labels)

    def recording_update(self, loss, optimizer):
        step = optimizer.step

        def step_and_record(*args, **kwargs):
            if len(record["gradients"]) < first_updates:
                record["gradients"].append([None if p.grad is None else p.grad.detach().clone()
                                            for group in optimizer.param_groups for p in group["params"]])
            return step(*args, **kwargs)

        optimizer.step = step_and_record
        try:
            update(self, loss, optimizer)
        finally:
            del optimizer.step  # the class's step again

    unet.UNetGenerator.forward_with_encoding = recording_forward
    training.Trainer._update = recording_update
    record["restore"] = lambda: (setattr(unet.UNetGenerator, "forward_with_encoding", forward_with_encoding),
                                 setattr(training.Trainer, "_update", update))
    return record


def cli(out_dir: str, argv: list[str]) -> int:
    from zi2zi_lessons import training
    from zi2zi_lessons.__main__ import main

    if UNSYNCHRONISED:
        training.synchronise_batch_norm = lambda module, device: module
    record = record_training()
    code = main(argv)
    record.pop("restore")()
    torch.save(record, os.path.join(out_dir, f"seen_rank{os.environ.get('RANK', 'single')}.pt"))
    return code


if __name__ == "__main__":
    mode, out_dir, *rest = sys.argv[1:]
    sys.exit(batchnorm(out_dir) if mode == "batchnorm" else cli(out_dir, rest))
